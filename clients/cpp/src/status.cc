// Decodes the google.rpc.Status that paysig sends in grpc-status-details-bin
// with protobuf's UnknownFieldSet, so the client needs no copy of the
// googleapis protos. Field numbers are those of google/rpc/status.proto and
// google/rpc/error_details.proto.
#include <google/protobuf/unknown_field_set.h>

#include <cstdint>

#include "paysig/client.h"

namespace paysig {
namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

constexpr char kErrorDomain[] = "paysig.v1";
constexpr char kErrorInfoType[] = "type.googleapis.com/google.rpc.ErrorInfo";
constexpr char kBadRequestType[] = "type.googleapis.com/google.rpc.BadRequest";
constexpr char kRetryInfoType[] = "type.googleapis.com/google.rpc.RetryInfo";

// The length-delimited fields numbered `number`, in order.
std::vector<std::string> Strings(const UnknownFieldSet& set, int number) {
  std::vector<std::string> out;
  for (int i = 0; i < set.field_count(); ++i) {
    const UnknownField& f = set.field(i);
    if (f.number() == number && f.type() == UnknownField::TYPE_LENGTH_DELIMITED) out.push_back(f.length_delimited());
  }
  return out;
}

// The last varint field numbered `number` (protobuf's rule for scalars), or 0.
uint64_t Varint(const UnknownFieldSet& set, int number) {
  uint64_t out = 0;
  for (int i = 0; i < set.field_count(); ++i) {
    const UnknownField& f = set.field(i);
    if (f.number() == number && f.type() == UnknownField::TYPE_VARINT) out = f.varint();
  }
  return out;
}

std::string First(const UnknownFieldSet& set, int number) {
  std::vector<std::string> all = Strings(set, number);
  return all.empty() ? std::string() : all.front();
}

void Decode(const std::string& status_bytes, Status* out) {
  UnknownFieldSet status;
  if (!status.ParseFromString(status_bytes)) return;
  for (const std::string& any_bytes : Strings(status, 3)) {  // Status.details
    UnknownFieldSet any;
    if (!any.ParseFromString(any_bytes)) continue;
    const std::string type_url = First(any, 1);
    UnknownFieldSet detail;
    if (!detail.ParseFromString(First(any, 2))) continue;
    if (type_url == kErrorInfoType) {
      if (First(detail, 2) == kErrorDomain) out->reason = First(detail, 1);  // domain, reason
    } else if (type_url == kBadRequestType) {
      for (const std::string& v_bytes : Strings(detail, 1)) {  // field_violations
        UnknownFieldSet v;
        if (!v.ParseFromString(v_bytes)) continue;
        out->violations.push_back(FieldViolation{First(v, 1), First(v, 3), First(v, 2)});
      }
    } else if (type_url == kRetryInfoType) {
      UnknownFieldSet delay;  // RetryInfo.retry_delay, a google.protobuf.Duration
      if (!delay.ParseFromString(First(detail, 1))) continue;
      const auto seconds = static_cast<int64_t>(Varint(delay, 1));
      const auto nanos = static_cast<int32_t>(Varint(delay, 2));
      if (seconds < 0 || nanos < 0 || seconds > 315576000000) continue;  // Duration's range; negative is not a delay
      out->retry_delay = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::seconds(seconds) + std::chrono::nanoseconds(nanos));
    }
  }
}

}  // namespace

const char* StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

Status Status::FromGrpc(const grpc::Status& status) {
  Status out;
  out.code = status.error_code();
  out.message = status.error_message();
  if (!status.ok() && !status.error_details().empty()) Decode(status.error_details(), &out);
  return out;
}

const FieldViolation* Status::violation(std::string_view field) const {
  for (const FieldViolation& v : violations) {
    if (v.field == field) return &v;
  }
  return nullptr;
}

std::string Status::ToString() const {
  std::string out = StatusCodeName(code);
  if (!reason.empty()) out += " (" + reason + ")";
  if (!message.empty()) out += ": " + message;
  if (!request_id.empty()) out += " [request id " + request_id + "]";
  return out;
}

}  // namespace paysig
