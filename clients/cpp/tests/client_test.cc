// GoogleTest suite of the C++ client against the real Python server.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "conformance.h"
#include "paysig/client.h"
#include "hmac.h"
#include "test_server.h"

namespace paysig {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;

constexpr char kSessionKey[] = "9hAb/NEYUlkaMBEsmFgzig==";
constexpr char kMgProductionKey[] = "12345";  // app "mg" in tests/conformance/config.toml

testing::TestServer* server = nullptr;

class ServerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { server = new testing::TestServer("tests/conformance/config.toml"); }
  void TearDown() override {
    EXPECT_EQ(server->Stop(), 0) << "server did not exit cleanly on SIGTERM";
    delete server;
  }
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new ServerEnvironment);

std::unique_ptr<Client> Connect(ClientOptions options = {}) {
  std::unique_ptr<Client> client;
  Status st = Client::Create(server->address(), options, &client);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return client;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ListValue Cases() {
  ListValue cases;
  std::string error;
  EXPECT_TRUE(conformance::LoadCases(testing::RepoRoot() + "/tests/conformance/cases.json", &cases, &error)) << error;
  return cases;
}

v1::SignOrderRequest Order(const std::string& out_trade_no) {
  v1::SignOrderRequest r;
  r.set_app_id("mg");
  r.set_env(v1::ENV_PRODUCTION);
  r.set_api(v1::PAYMENT_API_GAME_ITEM);
  r.set_session_key(kSessionKey);
  r.mutable_order()->set_product_id("sword");
  r.mutable_order()->set_goods_price(600);
  r.mutable_order()->set_buy_quantity(1);
  r.mutable_order()->set_out_trade_no(out_trade_no);
  return r;
}

TEST(Conformance, EveryCasePasses) {
  auto client = Connect();
  ListValue cases = Cases();
  ASSERT_GE(cases.values_size(), 100);
  for (const auto& c : cases.values()) {
    EXPECT_EQ(conformance::RunCase(*client, c), "") << c.struct_value().fields().at("name").string_value();
  }
}

TEST(Vectors, PublishedWeChatVectors) {
  auto client = Connect();
  Struct doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  ReadFile(testing::RepoRoot() + "/tests/vectors/wechat-official.json"), &doc)
                  .ok());
  int checked = 0;
  for (const auto& v : doc.fields().at("vectors").list_value().values()) {
    const auto& f = v.struct_value().fields();
    const std::string kind = f.at("kind").string_value(), key = f.at("key").string_value(),
                      prefix = f.at("prefix").string_value(), payload = f.at("payload").string_value(),
                      expected = f.at("hmac_sha256_hex").string_value();
    v1::VerifySignatureRequest request;
    request.set_app_id("mg");
    request.set_payload(payload);
    request.set_signature(expected);
    if (kind == "api_pay_sig") {
      ASSERT_EQ(key, kMgProductionKey);
      request.set_scheme(v1::SIGNATURE_SCHEME_PAY_SIG);
      request.set_method(prefix.substr(0, prefix.size() - 1));
      v1::SignApiCallRequest sign;
      sign.set_app_id("mg");
      sign.set_env(v1::ENV_PRODUCTION);
      sign.set_uri(prefix.substr(0, prefix.size() - 1));
      sign.set_body(payload);
      sign.set_session_key(kSessionKey);  // both vector APIs need the user signature
      v1::SignApiCallResponse signed_call;
      Status signed_status = client->SignApiCall(sign, &signed_call);
      ASSERT_TRUE(signed_status.ok()) << signed_status.ToString();
      EXPECT_EQ(signed_call.pay_sig(), expected);
    } else {
      request.set_scheme(v1::SIGNATURE_SCHEME_USER_SIGNATURE);
      request.set_session_key(key);
    }
    v1::VerifySignatureResponse verdict;
    Status st = client->VerifySignature(request, &verdict);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(verdict.valid()) << kind << " " << payload;
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

TEST(Errors, CarryCodeReasonAndEveryViolation) {
  auto client = Connect();
  v1::SignOrderRequest request = Order("_bad");
  request.mutable_order()->set_goods_price(-1);
  v1::SignOrderResponse response;
  Status st = client->SignOrder(request, &response);
  EXPECT_EQ(st.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.reason, "INVALID_REQUEST");
  ASSERT_EQ(st.violations.size(), 2u);
  ASSERT_NE(st.violation("order.out_trade_no"), nullptr);
  EXPECT_EQ(st.violation("order.out_trade_no")->reason, "FORMAT");
  EXPECT_FALSE(st.violation("order.goods_price")->description.empty());
  EXPECT_EQ(st.ToString().rfind("INVALID_ARGUMENT (INVALID_REQUEST): invalid SignOrderRequest", 0), 0u);

  request.set_app_id("nope");
  st = client->SignOrder(request, &response);
  EXPECT_EQ(st.code, grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.reason, "APP_NOT_FOUND");
}

TEST(Errors, EveryAnswerHasARequestIdAndNoRetryDelayUnlessSent) {
  auto client = Connect();
  v1::SignOrderResponse response;
  Status ok = client->SignOrder(Order("cpp-rid-ok"), &response);
  ASSERT_TRUE(ok.ok()) << ok.ToString();
  v1::BatchSignOrdersResponse batch;
  Status failed = client->BatchSignOrders(v1::BatchSignOrdersRequest(), &batch);
  EXPECT_EQ(failed.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(failed.retry_delay.count(), 0);
  EXPECT_FALSE(ok.request_id.empty());
  EXPECT_FALSE(failed.request_id.empty());
  EXPECT_NE(ok.request_id, failed.request_id);
}

TEST(Deadlines, APerCallDeadlineOverridesTheClientTimeout) {
  ClientOptions options;
  options.timeout = std::chrono::milliseconds(0);  // calls without their own deadline expire at once
  auto client = Connect(options);
  v1::SignOrderResponse response;
  Status st = client->SignOrder(Order("cpp-deadline-1"), &response);
  EXPECT_EQ(st.code, grpc::StatusCode::DEADLINE_EXCEEDED) << st.ToString();
  CallOptions generous;
  generous.deadline = std::chrono::system_clock::now() + std::chrono::seconds(60);
  st = client->SignOrder(Order("cpp-deadline-2"), &response, generous);
  EXPECT_TRUE(st.ok()) << st.ToString();
  CallOptions expired;
  expired.deadline = std::chrono::system_clock::now() - std::chrono::seconds(1);
  ClientOptions patient;
  patient.timeout = std::chrono::milliseconds(60000);
  st = Connect(patient)->SignOrder(Order("cpp-deadline-3"), &response, expired);
  EXPECT_EQ(st.code, grpc::StatusCode::DEADLINE_EXCEEDED) << st.ToString();
  EXPECT_EQ(st.request_id, "");
}

TEST(Concurrency, ManyThreadsSignAndEveryAnswerVerifies) {
  ClientOptions options;
  options.connections = 4;
  auto client = Connect(options);
  constexpr int kThreads = 16, kCalls = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        v1::SignOrderResponse signed_order;
        Status st = client->SignOrder(Order("cpp-" + std::to_string(t) + "-" + std::to_string(i)), &signed_order);
        v1::VerifySignatureRequest verify;
        verify.set_app_id("mg");
        verify.set_scheme(v1::SIGNATURE_SCHEME_PAY_SIG);
        verify.set_method(signed_order.method());
        verify.set_payload(signed_order.sign_data());
        verify.set_signature(signed_order.pay_sig());
        v1::VerifySignatureResponse verdict;
        bool ok = st.ok() && client->VerifySignature(verify, &verdict).ok() && verdict.valid() &&
                  signed_order.pay_sig() ==
                      testing::HmacSha256Hex(kMgProductionKey, "requestMidasPaymentGameItem&" + signed_order.sign_data()) &&
                  signed_order.signature() == testing::HmacSha256Hex(kSessionKey, signed_order.sign_data());
        if (!ok) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(Batch, EachItemHasItsOwnResult) {
  auto client = Connect();
  v1::BatchSignOrdersRequest request;
  *request.add_requests() = Order("cpp-batch-1");
  *request.add_requests() = Order("_bad");
  v1::BatchSignOrdersResponse response;
  Status st = client->BatchSignOrders(request, &response);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(response.results_size(), 2);
  const auto& signed_order = response.results(0).response();
  EXPECT_EQ(signed_order.pay_sig(),
            testing::HmacSha256Hex(kMgProductionKey, "requestMidasPaymentGameItem&" + signed_order.sign_data()));
  ASSERT_TRUE(response.results(1).has_error());
  EXPECT_EQ(response.results(1).error().code(), "INVALID_ARGUMENT");
  EXPECT_EQ(response.results(1).error().violations(0).field(), "order.out_trade_no");
}

TEST(Options, AreChecked) {
  std::unique_ptr<Client> client;
  ClientOptions zero;
  zero.connections = 0;
  EXPECT_EQ(Client::Create("127.0.0.1:1", zero, &client).code, grpc::StatusCode::INVALID_ARGUMENT);
  ClientOptions token;
  token.token = "t";
  EXPECT_EQ(Client::Create("127.0.0.1:1", token, &client).code, grpc::StatusCode::INVALID_ARGUMENT);
  token.allow_token_without_tls = true;
  EXPECT_TRUE(Client::Create("127.0.0.1:1", token, &client).ok());
}

TEST(Transport, UnreachableServerIsUnavailableWithoutReason) {
  ClientOptions options;
  options.connections = 1;
  options.timeout = std::chrono::milliseconds(1000);
  std::unique_ptr<Client> client;
  ASSERT_TRUE(Client::Create("127.0.0.1:1", options, &client).ok());
  v1::VerifySignatureResponse verdict;
  Status st = client->VerifySignature(v1::VerifySignatureRequest(), &verdict);
  EXPECT_TRUE(st.code == grpc::StatusCode::UNAVAILABLE || st.code == grpc::StatusCode::DEADLINE_EXCEEDED)
      << st.ToString();
  EXPECT_EQ(st.reason, "");
  EXPECT_EQ(st.request_id, "");
}

}  // namespace
}  // namespace paysig
