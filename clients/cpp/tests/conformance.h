// The C++ runner of the conformance suite (tests/conformance/cases.json).
#ifndef PAYSIG_TESTS_CONFORMANCE_H_
#define PAYSIG_TESTS_CONFORMANCE_H_

#include <google/protobuf/struct.pb.h>

#include <string>
#include <vector>

#include "paysig/client.h"

namespace paysig::conformance {

// Reads the "cases" list of a cases file; false with *error on failure.
bool LoadCases(const std::string& path, google::protobuf::ListValue* cases, std::string* error);

// Runs one case through the client; returns "" when it passes, else why not.
// *request_id (when given) receives the server's id of the call.
std::string RunCase(const Client& client, const google::protobuf::Value& test_case,
                    std::string* request_id = nullptr);

// One signed order case: its name, the call's request id, and either the
// entry shared by all languages ({app_id, method, sign_data, pay_sig,
// signature, session_key}) or an error.
struct SignedCase {
  std::string name;
  std::string request_id;
  google::protobuf::Struct signed_entry;
  std::string error;
};

// Signs every successful SignOrder case.
std::vector<SignedCase> SignAll(const Client& client, const google::protobuf::ListValue& cases);

// Verifies the paySig and user signature of one signed entry; "" when both
// verify, else why not.
std::string Verify(const Client& client, const google::protobuf::Struct& signed_entry);

}  // namespace paysig::conformance

#endif  // PAYSIG_TESTS_CONFORMANCE_H_
