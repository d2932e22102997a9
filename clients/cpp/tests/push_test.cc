// HandleNotification end to end: the test plays WeChat, building pushes with
// OpenSSL (EVP AES-256-CBC, SHA-1, HMAC-SHA256), independently of paysig, and
// hands them to the handler, which calls a real server running
// tests/conformance/push.toml.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <vector>

#include "paysig/push_handler.h"
#include "hmac.h"
#include "test_server.h"

namespace paysig {
namespace {

constexpr char kToken[] = "clientPushToken1";
constexpr char kAesKey[] = "ClientPushAesKeyClientPushAesKeyClientPush2";
constexpr char kPreviousAesKey[] = "ClientPushAesKeyClientPushAesKeyClientPush1";
constexpr char kAppid[] = "wx00aa11bb22cc33dd";
constexpr char kAppKey[] = "mg-push-production-key";
constexpr char kGoods[] = "minigame_game_pay_goods_deliver_notify";
constexpr char kOpenId[] = "o9AgO5Kd5ggOC-bXrbNODIiE3bGY";

std::string Hex(const unsigned char* data, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

std::string Sha1Sorted(std::vector<std::string> parts) {
  std::sort(parts.begin(), parts.end());
  std::string joined;
  for (const auto& p : parts) joined += p;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
  return Hex(digest, sizeof digest);
}

std::string Base64(const std::string& raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Unbase64(const std::string& text) {
  std::string out(3 * text.size() / 4 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  size_t padding = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) ++padding;
  out.resize(out.size() - std::min(padding, out.size()));
  return out;
}

// WeChat's safe-mode encryption: base64(AES-256-CBC(random16 + big-endian
// length + message + appid)), key base64(EncodingAESKey + "="), IV the key's
// first 16 bytes, PKCS#7 padding to 32-byte blocks.
std::string WeChatEncrypt(const std::string& encoding_aes_key, const std::string& appid, const std::string& message,
                          const std::string& random16 = "0123456789abcdef") {
  const std::string key = Unbase64(encoding_aes_key + "=");
  EXPECT_EQ(key.size(), 32u);
  std::string plain = random16;
  const uint32_t n = static_cast<uint32_t>(message.size());
  plain += {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
  plain += message + appid;
  const size_t pad = 32 - plain.size() % 32;
  plain.append(pad, static_cast<char>(pad));
  std::string out(plain.size(), '\0');
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int written = 0;
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, k, k), 1);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &written,
                              reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size())),
            1);
  int final_written = 0;
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + written, &final_written), 1);
  EVP_CIPHER_CTX_free(ctx);
  EXPECT_EQ(static_cast<size_t>(written + final_written), plain.size());
  return Base64(out);
}

struct Push {
  std::string method, query, body;
};

Push SafePush(const std::string& token, const std::string& encrypt, bool xml = false) {
  const std::string ts = "1714112445", nonce = "415670741";
  Push p{"POST",
         "signature=" + Sha1Sorted({token, ts, nonce}) + "&timestamp=" + ts + "&nonce=" + nonce + "&openid=" + kOpenId +
             "&encrypt_type=aes&msg_signature=" + Sha1Sorted({token, ts, nonce, encrypt}),
         ""};
  p.body = xml ? "<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><Encrypt><![CDATA[" + encrypt +
                     "]]></Encrypt></xml>"
               : R"({"ToUserName":"gh_97417a04a28d","Encrypt":")" + encrypt + "\"}";
  return p;
}

std::string Payload(const std::string& out_trade_no) {
  return std::string(R"({"OpenId":")") + kOpenId + R"(","Env":0,"OutTradeNo":")" + out_trade_no +
         R"(","GoodsInfo":{"ProductId":"sword","Quantity":2,"ZoneId":"1","OrigPrice":100,"ActualPrice":180,)" +
         R"("Attach":"player-7","OrderSource":1},"WeChatPayInfo":{"MchOrderNo":"M)" + out_trade_no +
         R"(","TransactionId":"T)" + out_trade_no + R"("}})";
}

// A goods event of app mg-push; sig "" means the right PayEventSig.
std::string MiniGameMessage(const std::string& out_trade_no, bool mock = false, bool xml = false,
                            std::string sig = "") {
  const std::string payload = Payload(out_trade_no);
  if (sig.empty()) sig = testing::HmacSha256Hex(kAppKey, std::string(kGoods) + "&" + payload);
  if (xml) {
    return std::string("<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><FromUserName><![CDATA[") + kOpenId +
           "]]></FromUserName><CreateTime>1714112445</CreateTime><MsgType><![CDATA[event]]></MsgType><Event>"
           "<![CDATA[" + kGoods + "]]></Event><MiniGame><Payload><![CDATA[" + payload + "]]></Payload><PayEventSig>"
           "<![CDATA[" + sig + "]]></PayEventSig><IsMock>" + (mock ? "true" : "false") + "</IsMock></MiniGame></xml>";
  }
  google::protobuf::Struct game;
  (*game.mutable_fields())["Payload"].set_string_value(payload);
  (*game.mutable_fields())["PayEventSig"].set_string_value(sig);
  (*game.mutable_fields())["IsMock"].set_bool_value(mock);
  std::string game_json;
  (void)google::protobuf::util::MessageToJsonString(game, &game_json);
  return std::string(R"({"ToUserName":"gh_97417a04a28d","FromUserName":")") + kOpenId +
         R"(","CreateTime":1714112445,"MsgType":"event","Event":")" + kGoods + R"(","MiniGame":)" + game_json + "}";
}

Push Encrypted(const std::string& message, bool xml = false, const std::string& aes_key = kAesKey) {
  return SafePush(kToken, WeChatEncrypt(aes_key, kAppid, message), xml);
}

google::protobuf::Struct PushVectors() {
  std::ifstream in(testing::RepoRoot() + "/tests/vectors/wechat-push.json");
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::Struct doc;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text.str(), &doc).ok());
  return doc;
}

// The test's WeChat reproduces WeChat's published encryption vectors, so the
// pushes it builds are WeChat's.
TEST(PushHandler, TestPushesMatchWeChatsVectors) {
  int checked = 0;
  const google::protobuf::Struct vectors = PushVectors();
  for (const auto& v : vectors.fields().at("encrypt").list_value().values()) {
    const auto& f = v.struct_value().fields();
    const std::string encrypt = f.at("encrypt").string_value();
    EXPECT_EQ(WeChatEncrypt(f.at("encoding_aes_key").string_value(), f.at("appid").string_value(),
                            f.at("plaintext").string_value(), f.at("random").string_value()),
              encrypt);
    if (f.count("msg_signature")) {
      EXPECT_EQ(Sha1Sorted({f.at("token").string_value(), f.at("timestamp").string_value(),
                            f.at("nonce").string_value(), encrypt}),
                f.at("msg_signature").string_value());
    }
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

// The game behind the handler: delivers each order once, counts the calls.
struct Game {
  std::mutex mu;
  std::map<std::string, int> calls;
  std::set<std::string> delivered, fail_once;

  bool Deliver(const v1::Notification& n) {
    std::lock_guard<std::mutex> lock(mu);
    ++calls[n.out_trade_no()];
    if (!n.body_authenticated() || n.kind() != v1::NOTIFICATION_KIND_GOODS_DELIVER) return false;
    if (fail_once.erase(n.out_trade_no()) > 0) return false;
    delivered.insert(n.out_trade_no());
    return true;
  }
};

bool Acked(const HttpReply& r) {
  return r.status == 200 && (r.body.find("\"ErrCode\":0") != std::string::npos ||
                             r.body.find("<ErrCode>0</ErrCode>") != std::string::npos);
}

bool Refused(const HttpReply& r) { return r.status >= 400 && r.status < 500; }

TEST(PushHandler, EndToEndAgainstARealServer) {
  testing::TestServer server("tests/conformance/push.toml");
  std::unique_ptr<Client> client;
  ASSERT_TRUE(Client::Create(server.address(), ClientOptions{}, &client).ok());
  Game game;
  game.fail_once.insert("CPP-J");
  auto handle = [&](const std::string& app, const Push& p, Status* st = nullptr) {
    return HandleNotification(*client, app, p.method, p.query, p.body,
                              [&game](const v1::Notification& n) { return game.Deliver(n); }, st);
  };

  // The URL handshake, with WeChat's published vector.
  const google::protobuf::Struct vectors = PushVectors();
  const auto& u = vectors.fields().at("url_signatures").list_value().values(0).struct_value().fields();
  const std::string echostr = u.at("echostr").string_value();
  HttpReply hello = handle("url-vector", Push{"GET", "signature=" + u.at("signature").string_value() + "&timestamp=" +
                                                         u.at("timestamp").string_value() + "&nonce=" +
                                                         u.at("nonce").string_value() + "&echostr=" + echostr,
                                              ""});
  EXPECT_EQ(hello.status, 200);
  EXPECT_EQ(hello.body, echostr);
  HttpReply forged_hello =
      handle("url-vector", Push{"GET", "signature=" + Sha1Sorted({"wrong", "1", "2"}) + "&timestamp=1&nonce=2&echostr=123", ""});
  EXPECT_TRUE(Refused(forged_hello)) << forged_hello.status;

  // Authentic pushes: delivered, acked; a repeat gets the same ack.
  HttpReply first = handle("mg-push", Encrypted(MiniGameMessage("CPP-A")));
  EXPECT_TRUE(Acked(first)) << first.status << " " << first.body;
  EXPECT_EQ(first.content_type, "application/json");
  HttpReply again = handle("mg-push", Encrypted(MiniGameMessage("CPP-A")));
  EXPECT_EQ(std::tie(again.status, again.content_type, again.body), std::tie(first.status, first.content_type, first.body));
  EXPECT_TRUE(Acked(handle("mg-push", Encrypted(MiniGameMessage("CPP-B", false, true), true))));
  EXPECT_TRUE(Acked(handle("mg-push", Encrypted(MiniGameMessage("CPP-C"), false, kPreviousAesKey))));
  // A test push is acked without delivery.
  EXPECT_TRUE(Acked(handle("mg-push", Encrypted(MiniGameMessage("CPP-D", true)))));
  // A failed delivery gets the nack (WeChat retries), the retry the ack.
  HttpReply failed = handle("mg-push", Encrypted(MiniGameMessage("CPP-J")));
  EXPECT_FALSE(Acked(failed));
  EXPECT_NE(failed.body.find("ErrCode"), std::string::npos) << failed.body;
  EXPECT_EQ(handle("mg-push", Encrypted(MiniGameMessage("CPP-J"))).body, first.body);

  // Forgeries: refused, never delivered.
  const std::string genuine = WeChatEncrypt(kAesKey, kAppid, MiniGameMessage("CPP-E"));
  std::string raw = Unbase64(genuine);
  raw[raw.size() / 2] ^= 1;
  const std::vector<std::pair<std::string, Push>> forgeries = {
      {"flipped Encrypt bit", SafePush(kToken, Base64(raw))},
      {"wrong token", SafePush("wrongToken", genuine)},
      {"wrong appid", SafePush(kToken, WeChatEncrypt(kAesKey, "wx9999999999999999", MiniGameMessage("CPP-F")))},
      {"bad PayEventSig",
       Encrypted(MiniGameMessage("CPP-G", false, false, testing::HmacSha256Hex("not-the-key", std::string(kGoods) + "&" + Payload("CPP-G"))))},
      {"plain push to a safe-mode app",
       Push{"POST", "signature=" + Sha1Sorted({kToken, "1", "2"}) + "&timestamp=1&nonce=2", MiniGameMessage("CPP-H")}},
  };
  for (const auto& [name, p] : forgeries) {
    HttpReply r = handle("mg-push", p);
    EXPECT_TRUE(Refused(r)) << name << ": " << r.status << " " << r.body;
  }

  // What never reaches paysig, and calls it refuses.
  EXPECT_EQ(handle("mg-push", Push{"PUT", "", ""}).status, 405);
  Push big = Encrypted(MiniGameMessage("CPP-K"));
  big.body.append(kMaxNotificationBody, ' ');
  EXPECT_EQ(handle("mg-push", big).status, 413);
  EXPECT_EQ(handle("url-vector", Push{"GET", "timestamp=1&nonce=2", ""}).status, 400);
  Status st;
  EXPECT_EQ(handle("no-such-app", Encrypted(MiniGameMessage("CPP-L")), &st).status, 503);
  EXPECT_EQ(st.reason, "APP_NOT_FOUND");
  EXPECT_FALSE(st.request_id.empty());

  // Deliveries happened exactly for the authentic pushes.
  const std::map<std::string, int> want_calls = {{"CPP-A", 2}, {"CPP-B", 1}, {"CPP-C", 1}, {"CPP-J", 2}};
  EXPECT_EQ(game.calls, want_calls);
  EXPECT_EQ(game.delivered, (std::set<std::string>{"CPP-A", "CPP-B", "CPP-C", "CPP-J"}));
}

}  // namespace
}  // namespace paysig
