// paysig C++ push handler: a game server's push URL in a few lines.
//
//   paysig::HttpReply reply = paysig::HandleNotification(
//       *client, "demo-minigame", request.method, request.raw_query, request.body,
//       [&](const paysig::v1::Notification& n) { return orders.DeliverOnce(n); });
//   // write reply.status, reply.content_type (when not empty) and reply.body back to WeChat
//
// Works with any HTTP server: it takes the method, the raw query string
// (without "?") and the raw body, and returns the answer. No exception
// crosses this API.
#ifndef PAYSIG_PUSH_HANDLER_H_
#define PAYSIG_PUSH_HANDLER_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "paysig/client.h"

namespace paysig {

// The largest push body forwarded to paysig (which rejects bigger ones as
// BODY_TOO_LARGE); a bigger one is answered 413 without a call.
constexpr std::size_t kMaxNotificationBody = 64 * 1024;

// How long WeChat waits for the answer to a push.
constexpr std::chrono::milliseconds kNotificationBudget{3000};
// The part of it given to the VerifyNotification call; deliver within the
// rest.
constexpr std::chrono::milliseconds kNotificationVerifyTimeout{1500};

// An HTTP answer to send back to WeChat unchanged.
struct HttpReply {
  int status = 0;
  std::string content_type;  // empty: send no Content-Type
  std::string body;
};

// Delivers an authentic notification (goods, coins, a refund, ...; see
// n.kind()). WeChat repeats a push until it gets the ack, so deliver once per
// n.out_trade_no() and return true for every repeat. true answers WeChat's
// ack; false (or an exception) answers the nack, and WeChat retries later.
using DeliverFunction = std::function<bool(const v1::Notification& n)>;

// Handles one HTTP request received on app_id's push URL (app_id as named in
// the server's config, with an [apps.push] table): forwards the method, raw
// query and body to VerifyNotification within kNotificationVerifyTimeout and
// returns the answer:
//   - the URL verification handshake (GET): the echostr;
//   - a rejected (forged, tampered, malformed) push: paysig's nack (4xx),
//     without calling deliver;
//   - an authentic test push (IsMock): the ack, without calling deliver;
//   - an authentic push: deliver(notification), then the ack when it returns
//     true, else the nack;
//   - a failed call: 400 for a malformed request (INVALID_ARGUMENT), 503
//     otherwise (WeChat retries);
//   - a method other than GET or POST: 405; a body over
//     kMaxNotificationBody: 413.
// *call_status (when given) receives the call's Status (request id
// included), e.g. to log failures.
HttpReply HandleNotification(const Client& client, const std::string& app_id, std::string_view http_method,
                             std::string_view query, std::string_view body, const DeliverFunction& deliver,
                             Status* call_status = nullptr);

}  // namespace paysig

#endif  // PAYSIG_PUSH_HANDLER_H_
