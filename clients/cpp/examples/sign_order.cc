// Signs one mini-game order against a paysig server (`make run`) and prints
// the arguments of wx.requestMidasPaymentGameItem.
//   paysig-example [target]     (default 127.0.0.1:50051)
#include <iostream>

#include "paysig/client.h"

int main(int argc, char** argv) {
  const std::string target = argc > 1 ? argv[1] : "127.0.0.1:50051";
  std::unique_ptr<paysig::Client> client;
  paysig::Status st = paysig::Client::Create(target, paysig::ClientOptions{}, &client);
  if (!st.ok()) {
    std::cerr << st.ToString() << "\n";
    return 1;
  }

  paysig::v1::SignOrderRequest request;
  request.set_app_id("demo-minigame");
  request.set_env(paysig::v1::ENV_SANDBOX);
  request.set_api(paysig::v1::PAYMENT_API_GAME_ITEM);
  request.set_session_key("9hAb/NEYUlkaMBEsmFgzig==");  // the player's session_key from code2session
  auto* order = request.mutable_order();
  order->set_product_id("sword");
  order->set_goods_price(600);  // fen
  order->set_buy_quantity(1);
  order->set_out_trade_no("example-cpp-0001");
  order->set_attach("player=42");

  paysig::v1::SignOrderResponse signed_order;
  st = client->SignOrder(request, &signed_order);
  if (!st.ok()) {
    std::cerr << st.ToString() << "\n";
    for (const auto& v : st.violations) std::cerr << "  " << v.field << ": " << v.description << "\n";
    return 1;
  }
  std::cout << "key version " << signed_order.key_version() << "\n"
            << "wx.requestMidasPaymentGameItem arguments:\n"
            << signed_order.client_args_json() << "\n";
  return 0;
}
