// A game server's push URL as a CGI program: the web server (nginx with
// fcgiwrap, Apache, lighttpd, ...) runs it for each push WeChat sends, and it
// answers with what paysig::HandleNotification returns. The same three lines
// fit any C++ HTTP server: pass the method, raw query and body, write back
// the HttpReply.
//   PAYSIG_TARGET=127.0.0.1:50051 PAYSIG_APP=demo-minigame paysig-push-example
// In the WeChat console: the push URL of this program, the Token and
// EncodingAESKey of the app's [apps.push] table, safe mode, JSON.
#include <cstdlib>
#include <iostream>
#include <string>

#include "paysig/push_handler.h"

namespace {

std::string Env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// Stands for the game's database: it must deliver each order once, since
// WeChat repeats a push until it gets the ack.
bool DeliverOnce(const paysig::v1::Notification& n) {
  std::cerr << "deliver " << n.goods().quantity() << " x " << n.goods().product_id() << " to " << n.openid()
            << " (order " << n.out_trade_no() << ", " << paysig::v1::NotificationKind_Name(n.kind()) << ")\n";
  return true;
}

}  // namespace

int main() {
  std::unique_ptr<paysig::Client> client;
  paysig::Status st = paysig::Client::Create(Env("PAYSIG_TARGET", "127.0.0.1:50051"), paysig::ClientOptions{}, &client);
  if (!st.ok()) {
    std::cerr << st.ToString() << "\n";
    std::cout << "Status: 503\r\nContent-Type: text/plain\r\n\r\npush not verified, retry later";
    return 0;
  }
  const std::size_t length = std::strtoull(Env("CONTENT_LENGTH", "0").c_str(), nullptr, 10);
  std::string body;
  if (length <= paysig::kMaxNotificationBody + 1) {
    body.resize(length);
    std::cin.read(body.data(), static_cast<std::streamsize>(length));
    body.resize(static_cast<std::size_t>(std::cin.gcount()));
  } else {
    body.assign(paysig::kMaxNotificationBody + 1, ' ');  // answered 413 without a call
  }
  paysig::Status call;
  paysig::HttpReply reply = paysig::HandleNotification(*client, Env("PAYSIG_APP", "demo-minigame"),
                                                       Env("REQUEST_METHOD", "GET"), Env("QUERY_STRING", ""), body,
                                                       DeliverOnce, &call);
  if (!call.ok()) std::cerr << "push: " << call.ToString() << "\n";
  std::cout << "Status: " << reply.status << "\r\n";
  if (!reply.content_type.empty()) std::cout << "Content-Type: " << reply.content_type << "\r\n";
  std::cout << "\r\n" << reply.body;
  return 0;
}
