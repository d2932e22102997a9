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
std::string RunCase(const Client& client, const google::protobuf::Value& test_case);

// Signs every successful SignOrder case; writes the signed.json shared by all
// languages ([{app_id, method, sign_data, pay_sig, signature, session_key}]).
std::string SignAll(const Client& client, const google::protobuf::ListValue& cases, std::string* signed_json);

// Verifies every entry of a signed.json; returns one result per entry, ""
// when both its paySig and signature verify.
std::vector<std::string> VerifyAll(const Client& client, const std::string& signed_json);

}  // namespace paysig::conformance

#endif  // PAYSIG_TESTS_CONFORMANCE_H_
