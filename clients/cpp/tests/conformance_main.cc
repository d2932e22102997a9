// paysig-conformance: the C++ runner of the cross-language suite.
//   paysig-conformance cases  -target ADDR -cases cases.json
//   paysig-conformance sign   -target ADDR -cases cases.json > signed.jsonl
//   paysig-conformance verify -target ADDR -signed signed.jsonl
// Writes one JSON object per line on stdout, the same in every language:
//   {"name": "...", "ok": true, "request_id": "...", "signed": {...}}
//   {"name": "...", "ok": false, "error": "why"}
// Exits 1 when any failed or none ran, 2 on a usage error (on stderr).
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "conformance.h"

namespace {

using google::protobuf::Struct;

std::string OneLine(const Struct& s) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(s, &out);
  return out;
}

}  // namespace

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
  // Prints one result line; `result` may already hold request_id and signed.
  auto report = [&](const std::string& name, const std::string& error, Struct result) {
    auto& f = *result.mutable_fields();
    f["name"].set_string_value(name);
    f["ok"].set_bool_value(error.empty());
    if (!error.empty()) f["error"].set_string_value(error);
    (error.empty() ? passed : failed)++;
    std::cout << OneLine(result) << "\n";
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
      std::string request_id;
      std::string outcome = paysig::conformance::RunCase(*client, c, &request_id);
      Struct result;
      if (!request_id.empty()) (*result.mutable_fields())["request_id"].set_string_value(request_id);
      report(c.struct_value().fields().at("name").string_value(), outcome, result);
    }
  } else if (command == "sign") {
    for (const auto& entry : paysig::conformance::SignAll(*client, cases)) {
      Struct result;
      auto& f = *result.mutable_fields();
      if (!entry.request_id.empty()) f["request_id"].set_string_value(entry.request_id);
      if (entry.error.empty()) *f["signed"].mutable_struct_value() = entry.signed_entry;
      report(entry.name, entry.error, result);
    }
  } else if (command == "verify") {
    std::ifstream in(flags["-signed"]);
    if (!in) {
      std::cerr << "cannot read " << flags["-signed"] << "\n";
      return 2;
    }
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      Struct result;
      if (!google::protobuf::util::JsonStringToMessage(line, &result).ok()) {
        std::cerr << flags["-signed"] << ": not a JSON line: " << line << "\n";
        return 2;
      }
      const auto& f = result.fields();
      if (f.count("signed") == 0) continue;
      const std::string name = f.count("name") ? f.at("name").string_value() : "";
      report(name, paysig::conformance::Verify(*client, f.at("signed").struct_value()), Struct());
    }
  } else {
    std::cerr << "unknown command " << command << "\n";
    return 2;
  }
  return failed == 0 && passed > 0 ? 0 : 1;
}
