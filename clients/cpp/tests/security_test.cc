// The C++ client's token and TLS options against a secured server.
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "paysig/client.h"
#include "test_server.h"

namespace paysig {
namespace {

constexpr char kToken[] = "cpp-test-token-3e8b1d6f0a";

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Sha256Hex(const std::string& s) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  char hex[2 * SHA256_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  return hex;
}

// A temporary folder with a throw-away CA, a server certificate for
// localhost and a client certificate with CN cpp-game, made by openssl.
class Pki {
 public:
  Pki() {
    char tmpl[] = "/tmp/paysig-cpp-pki-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::ofstream(dir_ + "/make-pki.sh") << R"(set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 1 -subj /CN=cpp-test-ca 2>/dev/null
for n in server client; do
  cn=localhost; [ "$n" = client ] && cn=cpp-game
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr \
    -subj /CN=$cn 2>/dev/null
  printf 'subjectAltName=DNS:%s,IP:127.0.0.1\n' $cn > $n.ext
  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 1 \
    -extfile $n.ext 2>/dev/null
  chmod 600 $n.key
done
)";
    ok_ = std::system(("cd '" + dir_ + "' && bash make-pki.sh").c_str()) == 0;
  }
  ~Pki() { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  bool ok() const { return ok_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
  bool ok_ = false;
};

std::string WriteConfig(const Pki& pki, const std::string& sections) {
  std::string config = Read(testing::RepoRoot() + "/tests/conformance/config.toml") + "\n" + sections +
                       "\n[audit]\npath = \"" + pki.path("audit.log") + "\"\n";
  std::ofstream(pki.path("paysig.toml")) << config;
  return pki.path("paysig.toml");
}

v1::SignOrderRequest Order(const std::string& out_trade_no) {
  v1::SignOrderRequest r;
  r.set_app_id("mg");
  r.set_env(v1::ENV_PRODUCTION);
  r.set_api(v1::PAYMENT_API_GAME_ITEM);
  r.set_session_key("9hAb/NEYUlkaMBEsmFgzig==");
  r.mutable_order()->set_product_id("sword");
  r.mutable_order()->set_goods_price(600);
  r.mutable_order()->set_buy_quantity(1);
  r.mutable_order()->set_out_trade_no(out_trade_no);
  return r;
}

Status Sign(const std::string& target, const ClientOptions& options, const std::string& out_trade_no) {
  std::unique_ptr<Client> client;
  Status st = Client::Create(target, options, &client);
  if (!st.ok()) return st;
  v1::SignOrderResponse response;
  return client->SignOrder(Order(out_trade_no), &response);
}

std::string Port(const std::string& address) { return address.substr(address.rfind(':') + 1); }

const std::string kTokenCaller = std::string("[auth]\nmode = \"token\"\n[[callers]]\nname = \"cpp-test\"\n") +
                                 "token_sha256 = \"" + Sha256Hex(kToken) + "\"\napps = [\"mg\"]\n";

TEST(Security, TokenOverLoopbackPlaintext) {
  Pki pki;
  testing::TestServer server(WriteConfig(pki, kTokenCaller));
  ClientOptions options;
  options.token = kToken;
  options.allow_token_without_tls = true;
  EXPECT_TRUE(Sign(server.address(), options, "cpp-tok-1").ok());
  options.token = "not-the-token";
  Status st = Sign(server.address(), options, "cpp-tok-2");
  EXPECT_EQ(st.code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(st.reason, "INVALID_TOKEN");
}

TEST(Errors, RequestIdAndRetryDelayReachTheCaller) {
  Pki pki;
  // One call's worth of burst, refilled at 0.0003/s: the second call is rate limited.
  testing::TestServer server(WriteConfig(pki, kTokenCaller + "rate_per_second = 0.0003\nburst = 1\n"));
  ClientOptions options;
  options.token = kToken;
  options.allow_token_without_tls = true;
  options.connections = 1;
  std::unique_ptr<Client> client;
  ASSERT_TRUE(Client::Create(server.address(), options, &client).ok());
  v1::SignOrderResponse response;
  Status first = client->SignOrder(Order("cpp-rid-1"), &response);
  ASSERT_TRUE(first.ok()) << first.ToString();
  Status limited = client->SignOrder(Order("cpp-rid-2"), &response);
  EXPECT_EQ(limited.code, grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(limited.reason, "RATE_LIMITED");
  // A whole token takes 3,333 s at 0.0003/s (times the workers sharing the rate).
  EXPECT_GE(limited.retry_delay, std::chrono::seconds(3000)) << limited.ToString();
  EXPECT_LE(limited.retry_delay, std::chrono::seconds(64 * 3400));
  ASSERT_FALSE(first.request_id.empty());
  ASSERT_FALSE(limited.request_id.empty());
  EXPECT_NE(first.request_id, limited.request_id);
  const std::string audit = Read(pki.path("audit.log"));
  EXPECT_NE(audit.find("\"request_id\":\"" + first.request_id + "\""), std::string::npos) << audit;
  EXPECT_NE(audit.find("\"request_id\":\"" + limited.request_id + "\""), std::string::npos) << audit;
  EXPECT_NE(limited.ToString().find("[request id " + limited.request_id + "]"), std::string::npos);
}

TEST(Security, TlsWithToken) {
  Pki pki;
  ASSERT_TRUE(pki.ok());
  testing::TestServer server(WriteConfig(pki, kTokenCaller + "[tls]\ncert_file = \"" + pki.path("server.pem") +
                                                  "\"\nkey_file = \"" + pki.path("server.key") + "\"\n"));
  ClientOptions options;
  options.use_tls = true;
  options.tls.pem_root_certs = Read(pki.path("ca.pem"));
  options.token = kToken;
  const std::string target = "localhost:" + Port(server.address());
  Status st = Sign(target, options, "cpp-tls-1");
  EXPECT_TRUE(st.ok()) << st.ToString();
  options.token.clear();
  st = Sign(target, options, "cpp-tls-2");
  EXPECT_EQ(st.code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(st.reason, "MISSING_CREDENTIALS");
}

TEST(Security, MutualTls) {
  Pki pki;
  ASSERT_TRUE(pki.ok());
  testing::TestServer server(WriteConfig(
      pki, "[auth]\nmode = \"mtls\"\n[tls]\ncert_file = \"" + pki.path("server.pem") + "\"\nkey_file = \"" +
               pki.path("server.key") + "\"\nclient_ca_file = \"" + pki.path("ca.pem") +
               "\"\n[[callers]]\nname = \"cpp-game\"\ncert_common_name = \"cpp-game\"\napps = [\"mg\"]\n"));
  ClientOptions options;
  options.use_tls = true;
  options.tls.pem_root_certs = Read(pki.path("ca.pem"));
  options.tls.pem_private_key = Read(pki.path("client.key"));
  options.tls.pem_cert_chain = Read(pki.path("client.pem"));
  options.timeout = std::chrono::milliseconds(5000);
  const std::string target = "localhost:" + Port(server.address());
  Status st = Sign(target, options, "cpp-mtls-1");
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_NE(Read(pki.path("audit.log")).find("\"caller\":\"cpp-game\""), std::string::npos);
  options.tls.pem_private_key.clear();
  options.tls.pem_cert_chain.clear();
  st = Sign(target, options, "cpp-mtls-2");
  EXPECT_EQ(st.code, grpc::StatusCode::UNAVAILABLE) << st.ToString();
}

}  // namespace
}  // namespace paysig
