#include "conformance.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

namespace paysig::conformance {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Message;
using google::protobuf::Struct;
using google::protobuf::Value;
using google::protobuf::util::JsonStringToMessage;
using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::MessageToJsonString;

const Value& Field(const Struct& s, const std::string& key) {
  static const Value kNull;
  auto it = s.fields().find(key);
  return it == s.fields().end() ? kNull : it->second;
}

std::string ToJson(const Message& m, bool proto_names = false) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = proto_names;
  options.preserve_proto_field_names = proto_names;
  (void)MessageToJsonString(m, &out, options);
  return out;
}

// Fills `request` from the case's "request" object.
std::string ParseRequest(const Struct& c, Message* request) {
  auto st = JsonStringToMessage(ToJson(Field(c, "request").struct_value()), request);
  return st.ok() ? "" : "request: " + st.ToString();
}

std::string CheckError(const Status& st, const Struct& want) {
  std::vector<std::pair<std::string, std::string>> got, expected;
  for (const auto& v : st.violations) got.emplace_back(v.field, v.reason);
  for (const auto& v : Field(want, "violations").list_value().values()) {
    expected.emplace_back(v.list_value().values(0).string_value(), v.list_value().values(1).string_value());
  }
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  if (StatusCodeName(st.code) != Field(want, "code").string_value() || st.reason != Field(want, "reason").string_value() ||
      got != expected) {
    return "want " + ToJson(want) + ", got " + st.ToString();
  }
  return "";
}

std::string CheckResponse(const Message& response, const Struct& want) {
  Struct got;
  if (!JsonStringToMessage(ToJson(response, true), &got).ok()) return "cannot read the response as JSON";
  for (const auto& [field, value] : want.fields()) {
    if (!MessageDifferencer::Equals(Field(got, field), value)) {
      return field + ": want " + ToJson(value) + ", got " + ToJson(Field(got, field));
    }
  }
  return "";
}

template <typename Request, typename Response>
std::string Run(const Struct& c, Status (Client::*call)(const Request&, Response*, const CallOptions&) const,
                const Client& client, std::string* request_id) {
  Request request;
  Response response;
  if (std::string err = ParseRequest(c, &request); !err.empty()) return err;
  Status st = (client.*call)(request, &response, CallOptions{});
  if (request_id != nullptr) *request_id = st.request_id;
  const Struct& expect = Field(c, "expect").struct_value();
  if (expect.fields().count("error")) return CheckError(st, Field(expect, "error").struct_value());
  if (!st.ok()) return "unexpected error " + st.ToString();
  return CheckResponse(response, Field(expect, "response").struct_value());
}

}  // namespace

bool LoadCases(const std::string& path, ListValue* cases, std::string* error) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  Struct doc;
  if (!in || !JsonStringToMessage(text.str(), &doc).ok()) {
    *error = "cannot read " + path;
    return false;
  }
  *cases = Field(doc, "cases").list_value();
  return true;
}

std::string RunCase(const Client& client, const Value& test_case, std::string* request_id) {
  const Struct& c = test_case.struct_value();
  const std::string& rpc = Field(c, "rpc").string_value();
  if (rpc == "SignOrder") return Run(c, &Client::SignOrder, client, request_id);
  if (rpc == "SignApiCall") return Run(c, &Client::SignApiCall, client, request_id);
  if (rpc == "VerifySignature") return Run(c, &Client::VerifySignature, client, request_id);
  return "unknown rpc " + rpc;
}

std::vector<SignedCase> SignAll(const Client& client, const ListValue& cases) {
  std::vector<SignedCase> out;
  for (const Value& v : cases.values()) {
    const Struct& c = v.struct_value();
    if (Field(c, "rpc").string_value() != "SignOrder" ||
        !Field(c, "expect").struct_value().fields().count("response")) {
      continue;
    }
    SignedCase& result = out.emplace_back();
    result.name = Field(c, "name").string_value();
    v1::SignOrderRequest request;
    v1::SignOrderResponse response;
    if (std::string err = ParseRequest(c, &request); !err.empty()) {
      result.error = err;
      continue;
    }
    Status st = client.SignOrder(request, &response);
    result.request_id = st.request_id;
    if (!st.ok()) {
      result.error = st.ToString();
      continue;
    }
    auto& entry = *result.signed_entry.mutable_fields();
    entry["app_id"].set_string_value(request.app_id());
    entry["method"].set_string_value(response.method());
    entry["sign_data"].set_string_value(response.sign_data());
    entry["pay_sig"].set_string_value(response.pay_sig());
    entry["signature"].set_string_value(response.signature());
    entry["session_key"].set_string_value(request.session_key());
  }
  return out;
}

std::string Verify(const Client& client, const Struct& s) {
  auto get = [&s](const char* key) { return Field(s, key).string_value(); };
  v1::VerifySignatureRequest pay, user;
  pay.set_app_id(get("app_id"));
  pay.set_scheme(v1::SIGNATURE_SCHEME_PAY_SIG);
  pay.set_method(get("method"));
  pay.set_payload(get("sign_data"));
  pay.set_signature(get("pay_sig"));
  user.set_app_id(get("app_id"));
  user.set_scheme(v1::SIGNATURE_SCHEME_USER_SIGNATURE);
  user.set_payload(get("sign_data"));
  user.set_signature(get("signature"));
  user.set_session_key(get("session_key"));
  v1::VerifySignatureResponse pay_result, user_result;
  Status a = client.VerifySignature(pay, &pay_result);
  Status b = client.VerifySignature(user, &user_result);
  if (a.ok() && b.ok() && pay_result.valid() && user_result.valid()) return "";
  return "pay_sig: " + (a.ok() ? std::string(pay_result.valid() ? "valid" : "invalid") : a.ToString()) +
         ", signature: " + (b.ok() ? std::string(user_result.valid() ? "valid" : "invalid") : b.ToString());
}

}  // namespace paysig::conformance
