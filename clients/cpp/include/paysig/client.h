// paysig C++ client: signs WeChat virtual payments through a paysig server.
//
//   paysig::ClientOptions options;            // 4 connections, 2 s deadline
//   std::unique_ptr<paysig::Client> client;
//   paysig::Status st = paysig::Client::Create("127.0.0.1:50051", options, &client);
//   paysig::v1::SignOrderResponse signed_order;
//   st = client->SignOrder(request, &signed_order);
//   if (!st.ok()) { /* st.code, st.reason, st.violations, st.retry_delay */ }
//   // st.request_id: the server's id of the call, on success and failure.
//
// No exception crosses this API. A Client is safe to share between threads.
#ifndef PAYSIG_CLIENT_H_
#define PAYSIG_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "paysig/v1/signer.grpc.pb.h"

namespace paysig {

// One broken rule of a request.
struct FieldViolation {
  std::string field;        // e.g. "order.out_trade_no"
  std::string reason;       // REQUIRED, NOT_ALLOWED, FORMAT, OUT_OF_RANGE, TOO_LONG, MISMATCH, UNSUPPORTED
  std::string description;  // what the field must be
};

// The outcome of a call: the gRPC code and message, paysig's rich error
// details (ErrorInfo reason, BadRequest field violations, RetryInfo delay)
// and, on success as on failure, the server's request id.
struct Status {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  // Stable ErrorInfo reason (INVALID_REQUEST, APP_NOT_FOUND, KEY_NOT_CONFIGURED,
  // API_NOT_SUPPORTED_FOR_APP_KIND, ...); empty when the failure did not come
  // from paysig (e.g. UNAVAILABLE from the transport).
  std::string reason;
  std::vector<FieldViolation> violations;
  // The server's id of the call (x-request-id; its audit line and logs carry
  // it), set on success and failure; empty when no paysig server answered.
  std::string request_id;
  // How long the server asks to wait before retrying (google.rpc.RetryInfo,
  // e.g. with RESOURCE_EXHAUSTED / RATE_LIMITED); zero when it gave none.
  std::chrono::milliseconds retry_delay{0};

  bool ok() const { return code == grpc::StatusCode::OK; }
  // The violation of `field`, or nullptr.
  const FieldViolation* violation(std::string_view field) const;
  // "INVALID_ARGUMENT (INVALID_REQUEST): message [request id ...]".
  std::string ToString() const;

  // Decodes the code, message and rich details (not the request id, which
  // travels in trailing metadata).
  static Status FromGrpc(const grpc::Status& status);
};

// Settings of one call.
struct CallOptions {
  // Deadline of this call; unset means now + ClientOptions::timeout.
  std::optional<std::chrono::system_clock::time_point> deadline;
};

struct ClientOptions {
  // Connections opened to the target and used in turn. A paysig server runs
  // one process per core behind one port and Linux spreads connections, not
  // calls: one connection would use one core.
  int connections = 4;
  // Deadline of a call made without CallOptions::deadline.
  std::chrono::milliseconds timeout{2000};
  // TLS (server verification, and a client certificate for mTLS) when set.
  bool use_tls = false;
  grpc::SslCredentialsOptions tls;
  // Sent as "authorization: Bearer <token>" on every call. Needs use_tls
  // unless allow_token_without_tls (loopback tests only).
  std::string token;
  bool allow_token_without_tls = false;
};

// The canonical name of a gRPC code, e.g. "INVALID_ARGUMENT".
const char* StatusCodeName(grpc::StatusCode code);

class Client {
 public:
  // Builds a client for `target` (host:port or any gRPC target such as
  // dns:///paysig.internal:50051). Connections are made lazily.
  static Status Create(const std::string& target, const ClientOptions& options, std::unique_ptr<Client>* out);

  // Every call takes optional CallOptions (e.g. its own deadline) and returns
  // a Status whose request_id names the call on the server.
  Status SignOrder(const v1::SignOrderRequest& request, v1::SignOrderResponse* response,
                   const CallOptions& call = {}) const;
  Status SignApiCall(const v1::SignApiCallRequest& request, v1::SignApiCallResponse* response,
                     const CallOptions& call = {}) const;
  // A mismatch is OK with response->valid() == false.
  Status VerifySignature(const v1::VerifySignatureRequest& request, v1::VerifySignatureResponse* response,
                         const CallOptions& call = {}) const;
  // Up to 1,000 items; response->results(i) answers request.requests(i) with
  // a response or an item error. A non-OK Status concerns the whole batch.
  Status BatchSignOrders(const v1::BatchSignOrdersRequest& request, v1::BatchSignOrdersResponse* response,
                         const CallOptions& call = {}) const;
  Status BatchSignApiCalls(const v1::BatchSignApiCallsRequest& request, v1::BatchSignApiCallsResponse* response,
                           const CallOptions& call = {}) const;
  // Verifies a push WeChat sent to the game's push URL; a forged push is OK
  // with response->result() == NOTIFICATION_RESULT_REJECTED.
  // HandleNotification (paysig/push_handler.h) wraps it for an HTTP server.
  Status VerifyNotification(const v1::VerifyNotificationRequest& request, v1::VerifyNotificationResponse* response,
                            const CallOptions& call = {}) const;
  // Explains why WeChat rejected a signature: the known mistakes that
  // reproduce it (response->verdict(), response->findings()). Its own RPC in
  // the caller's grants.
  Status DiagnoseSignature(const v1::DiagnoseSignatureRequest& request, v1::DiagnoseSignatureResponse* response,
                           const CallOptions& call = {}) const;

 private:
  explicit Client(const ClientOptions& options) : options_(options) {}
  // Calls `method` on the next connection's stub with the deadline and token.
  template <typename Request, typename Response>
  Status Invoke(grpc::Status (v1::SignerService::Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                const Request& request, Response* response, const CallOptions& call) const;

  ClientOptions options_;
  std::vector<std::unique_ptr<v1::SignerService::Stub>> stubs_;
  mutable std::atomic<size_t> next_{0};
};

}  // namespace paysig

#endif  // PAYSIG_CLIENT_H_
