#include "paysig/client.h"

#include <exception>

namespace paysig {
namespace {

// round_robin over every address a name resolves to; retry only calls that
// never reached a server (signing is a pure function of the request).
constexpr char kServiceConfig[] = R"({
  "loadBalancingConfig": [{"round_robin": {}}],
  "methodConfig": [{
    "name": [{"service": "paysig.v1.SignerService"}],
    "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.05s", "maxBackoff": "1s",
                    "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}
  }]
})";

constexpr char kRequestIdKey[] = "x-request-id";

Status Invalid(const std::string& message) {
  Status st;
  st.code = grpc::StatusCode::INVALID_ARGUMENT;
  st.message = message;
  return st;
}

Status Internal(const char* what) {
  Status st;
  st.code = grpc::StatusCode::INTERNAL;
  st.message = std::string("paysig client: ") + what;
  return st;
}

}  // namespace

Status Client::Create(const std::string& target, const ClientOptions& options, std::unique_ptr<Client>* out) {
  if (options.connections < 1) return Invalid("connections must be at least 1");
  if (!options.token.empty() && !options.use_tls && !options.allow_token_without_tls) {
    return Invalid("a token needs TLS (or allow_token_without_tls for loopback tests)");
  }
  try {
    std::unique_ptr<Client> client(new Client(options));
    auto credentials =
        options.use_tls ? grpc::SslCredentials(options.tls) : grpc::InsecureChannelCredentials();
    for (int i = 0; i < options.connections; ++i) {
      grpc::ChannelArguments args;
      args.SetServiceConfigJSON(kServiceConfig);
      args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
      // The server accepts pings every 10 s or more, with or without calls.
      args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
      args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
      args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
      // Without this, channels to one target share one connection.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      // The answer to a full batch (1,000 orders) can reach 7 MiB.
      args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
      client->stubs_.push_back(v1::SignerService::NewStub(grpc::CreateCustomChannel(target, credentials, args)));
    }
    *out = std::move(client);
    return Status{};
  } catch (const std::exception& e) {
    return Internal(e.what());
  }
}

template <typename Request, typename Response>
Status Client::Invoke(grpc::Status (v1::SignerService::Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                      const Request& request, Response* response, const CallOptions& call) const {
  try {
    grpc::ClientContext context;
    context.set_deadline(call.deadline.value_or(std::chrono::system_clock::now() + options_.timeout));
    if (!options_.token.empty()) context.AddMetadata("authorization", "Bearer " + options_.token);
    auto& stub = *stubs_[next_.fetch_add(1, std::memory_order_relaxed) % stubs_.size()];
    Status st = Status::FromGrpc((stub.*method)(&context, request, response));
    const auto& trailers = context.GetServerTrailingMetadata();
    if (auto it = trailers.find(kRequestIdKey); it != trailers.end()) {
      st.request_id.assign(it->second.data(), it->second.size());
    }
    return st;
  } catch (const std::exception& e) {
    return Internal(e.what());
  }
}

Status Client::SignOrder(const v1::SignOrderRequest& request, v1::SignOrderResponse* response,
                         const CallOptions& call) const {
  return Invoke(&v1::SignerService::Stub::SignOrder, request, response, call);
}

Status Client::SignApiCall(const v1::SignApiCallRequest& request, v1::SignApiCallResponse* response,
                           const CallOptions& call) const {
  return Invoke(&v1::SignerService::Stub::SignApiCall, request, response, call);
}

Status Client::VerifySignature(const v1::VerifySignatureRequest& request, v1::VerifySignatureResponse* response,
                               const CallOptions& call) const {
  return Invoke(&v1::SignerService::Stub::VerifySignature, request, response, call);
}

Status Client::BatchSignOrders(const v1::BatchSignOrdersRequest& request, v1::BatchSignOrdersResponse* response,
                               const CallOptions& call) const {
  return Invoke(&v1::SignerService::Stub::BatchSignOrders, request, response, call);
}

Status Client::BatchSignApiCalls(const v1::BatchSignApiCallsRequest& request, v1::BatchSignApiCallsResponse* response,
                                 const CallOptions& call) const {
  return Invoke(&v1::SignerService::Stub::BatchSignApiCalls, request, response, call);
}

Status Client::VerifyNotification(const v1::VerifyNotificationRequest& request,
                                  v1::VerifyNotificationResponse* response, const CallOptions& call) const {
  return Invoke(&v1::SignerService::Stub::VerifyNotification, request, response, call);
}

Status Client::DiagnoseSignature(const v1::DiagnoseSignatureRequest& request,
                                 v1::DiagnoseSignatureResponse* response, const CallOptions& call) const {
  return Invoke(&v1::SignerService::Stub::DiagnoseSignature, request, response, call);
}

}  // namespace paysig
