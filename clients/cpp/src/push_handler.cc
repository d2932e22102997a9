#include "paysig/push_handler.h"

#include <exception>

namespace paysig {
namespace {

HttpReply Text(int status, std::string body) { return HttpReply{status, "text/plain; charset=utf-8", std::move(body)}; }

HttpReply Unverified() { return Text(503, "push not verified, retry later"); }

HttpReply FromProto(const v1::HttpReply& reply) {
  if (reply.status() < 100 || reply.status() > 599) return Unverified();
  return HttpReply{reply.status(), reply.content_type(), reply.body()};
}

bool Deliver(const DeliverFunction& deliver, const v1::Notification& n) {
  try {
    return deliver(n);
  } catch (...) {
    return false;
  }
}

}  // namespace

HttpReply HandleNotification(const Client& client, const std::string& app_id, std::string_view http_method,
                             std::string_view query, std::string_view body, const DeliverFunction& deliver,
                             Status* call_status) {
  try {
    if (http_method != "GET" && http_method != "POST") return Text(405, "method not allowed");
    if (body.size() > kMaxNotificationBody) return Text(413, "request body too large");
    v1::VerifyNotificationRequest request;
    request.set_app_id(app_id);
    request.set_http_method(std::string(http_method));
    request.set_query(std::string(query));
    request.set_body(std::string(body));
    v1::VerifyNotificationResponse response;
    CallOptions call;
    call.deadline = std::chrono::system_clock::now() + kNotificationVerifyTimeout;
    Status st = client.VerifyNotification(request, &response, call);
    if (call_status != nullptr) *call_status = st;
    if (!st.ok()) {
      return st.code == grpc::StatusCode::INVALID_ARGUMENT ? Text(400, "bad push request") : Unverified();
    }
    switch (response.result()) {
      case v1::NOTIFICATION_RESULT_URL_VERIFICATION:
        return FromProto(response.ack());
      case v1::NOTIFICATION_RESULT_REJECTED:
        return FromProto(response.nack());
      case v1::NOTIFICATION_RESULT_ACCEPTED:
        if (response.notification().is_mock()) return FromProto(response.ack());
        return FromProto(Deliver(deliver, response.notification()) ? response.ack() : response.nack());
      default:
        return Unverified();
    }
  } catch (const std::exception&) {
    return Unverified();
  }
}

}  // namespace paysig
