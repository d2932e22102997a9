#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "paysig/client.h"

namespace paysig {
namespace {

Status Bad(const std::string& field, const std::string& description) {
  Status st;
  st.code = grpc::StatusCode::INVALID_ARGUMENT;
  st.message = "invalid notification: " + field + ": " + description;
  st.reason = "INVALID_NOTIFICATION";
  st.violations.push_back(FieldViolation{field, "FORMAT", description});
  return st;
}

const google::protobuf::Value* Find(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? nullptr : &it->second;
}

}  // namespace

Status ParseNotification(const std::string& raw_json, Notification* out) {
  google::protobuf::Struct push;
  if (!google::protobuf::util::JsonStringToMessage(raw_json, &push).ok()) {
    return Bad("notification", "must be a JSON object");
  }
  const auto* event = Find(push, "Event");
  if (event == nullptr || !event->has_string_value() || event->string_value().empty()) {
    return Bad("Event", "required: the event name");
  }
  const auto* game = Find(push, "MiniGame");
  if (game == nullptr || !game->has_struct_value()) {
    return Bad("MiniGame", "required: an object with Payload and PayEventSig");
  }
  const auto* payload = Find(game->struct_value(), "Payload");
  if (payload == nullptr || !payload->has_string_value()) return Bad("MiniGame.Payload", "required: the signed JSON string");
  const auto* sig = Find(game->struct_value(), "PayEventSig");
  if (sig == nullptr || !sig->has_string_value()) return Bad("MiniGame.PayEventSig", "required: the signature");
  const auto* mock = Find(game->struct_value(), "IsMock");
  out->event = event->string_value();
  out->payload = payload->string_value();
  out->pay_event_sig = sig->string_value();
  out->is_mock = mock != nullptr && mock->has_bool_value() && mock->bool_value();
  return Status{};
}

}  // namespace paysig
