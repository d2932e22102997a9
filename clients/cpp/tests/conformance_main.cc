// paysig-conformance: the C++ runner of the cross-language suite.
//   paysig-conformance cases  -target ADDR -cases cases.json
//   paysig-conformance sign   -target ADDR -cases cases.json > signed.json
//   paysig-conformance verify -target ADDR -signed signed.json
// Prints "N passed, M failed" on stderr; exits 1 on any failure.
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "conformance.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc % 2 != 0) {
    std::cerr << "usage: paysig-conformance cases|sign|verify -target ADDR [-cases FILE] [-signed FILE]\n";
    return 2;
  }
  const std::string command = argv[1];
  std::map<std::string, std::string> flags;
  for (int i = 2; i + 1 < argc; i += 2) flags[argv[i]] = argv[i + 1];

  std::unique_ptr<paysig::Client> client;
  if (auto st = paysig::Client::Create(flags["-target"], paysig::ClientOptions{}, &client); !st.ok()) {
    std::cerr << st.ToString() << "\n";
    return 2;
  }
  int passed = 0, failed = 0;
  auto report = [&](const std::string& name, const std::string& error) {
    if (error.empty()) {
      ++passed;
    } else {
      ++failed;
      std::cerr << "FAIL " << name << ": " << error << "\n";
    }
  };
  google::protobuf::ListValue cases;
  std::string error;
  if (command == "cases" || command == "sign") {
    if (!paysig::conformance::LoadCases(flags["-cases"], &cases, &error)) {
      std::cerr << error << "\n";
      return 2;
    }
  }
  if (command == "cases") {
    for (const auto& c : cases.values()) {
      report(c.struct_value().fields().at("name").string_value(), paysig::conformance::RunCase(*client, c));
    }
  } else if (command == "sign") {
    std::string signed_json;
    report("sign", paysig::conformance::SignAll(*client, cases, &signed_json));
    std::cout << signed_json << "\n";
  } else if (command == "verify") {
    std::ifstream in(flags["-signed"]);
    std::stringstream text;
    text << in.rdbuf();
    for (const auto& result : paysig::conformance::VerifyAll(*client, text.str())) report("verify", result);
  } else {
    std::cerr << "unknown command " << command << "\n";
    return 2;
  }
  std::cerr << passed << " passed, " << failed << " failed\n";
  return failed == 0 && passed > 0 ? 0 : 1;
}
