// DiagnoseSignature through the C++ client, against the real Python server.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "paysig/client.h"
#include "hmac.h"
#include "test_server.h"

namespace paysig {
namespace {

// App "mg"'s AppKeys in tests/conformance/config.toml.
constexpr char kMgProductionKey[] = "12345";
constexpr char kMgSandboxKeyV2[] = "mg-sandbox-key-v2";
constexpr char kMethod[] = "requestMidasPaymentGameItem";
constexpr char kSignData[] =
    R"({"mode":"goods","offerId":"1450000001","buyQuantity":1,"env":0,"currencyType":"CNY",)"
    R"("platform":"android","zoneId":"1","productId":"sword","goodsPrice":600,"outTradeNo":"cpp-diag-1"})";

TEST(Diagnose, NamesTheMistakeThatMadeTheSignature) {
  testing::TestServer server("tests/conformance/config.toml");
  std::unique_ptr<Client> client;
  ClientOptions options;
  options.timeout = std::chrono::milliseconds(20000);
  ASSERT_TRUE(Client::Create(server.address(), options, &client).ok());

  v1::DiagnoseSignatureRequest request;
  request.set_app_id("mg");
  request.set_scheme(v1::SIGNATURE_SCHEME_PAY_SIG);
  request.set_method(kMethod);
  request.set_payload(kSignData);
  request.set_signature(testing::HmacSha256Hex(kMgSandboxKeyV2, std::string(kMethod) + "&" + kSignData));
  request.set_wechat_error_code(-15014);
  v1::DiagnoseSignatureResponse response;
  Status st = client->DiagnoseSignature(request, &response);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(response.verdict(), v1::DIAGNOSIS_VERDICT_EXPLAINED);
  ASSERT_EQ(response.findings_size(), 1);
  EXPECT_EQ(response.findings(0).code(), "WRONG_ENV_KEY");
  EXPECT_EQ(response.findings(0).key_env(), v1::ENV_SANDBOX);
  EXPECT_EQ(response.findings(0).key_version(), 2u);
  EXPECT_FALSE(response.error_code_meaning().empty());

  request.set_signature(testing::HmacSha256Hex(kMgProductionKey, std::string(kMethod) + "&" + kSignData));
  ASSERT_TRUE(client->DiagnoseSignature(request, &response).ok());
  EXPECT_EQ(response.verdict(), v1::DIAGNOSIS_VERDICT_VALID);

  request.set_signature("not hex");
  st = client->DiagnoseSignature(request, &response);
  EXPECT_EQ(st.code, grpc::StatusCode::INVALID_ARGUMENT) << st.ToString();
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace paysig
