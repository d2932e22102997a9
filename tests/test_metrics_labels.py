"""Every env label of the scraped metrics uses the config's vocabulary
(production, sandbox), whichever path signed: the compiled fast path
(minigame and miniprogram orders, unary and batch), the reference path
(an order the fast path declines, SignApiCall) and the key version gauge."""

import re

from paysig.v1 import signer_pb2 as pb
from support import ServerProcess, free_port, scrape_metrics, signer_stub, write_config

SESSION_KEY = "9hAb/NEYUlkaMBEsmFgzig=="
CONFIG = """
[[apps]]
app_id = "g1"
kind = "minigame"
offer_id = "1450000001"
[apps.keys]
production = { value = "labels-g1-production" }
sandbox = { value = "labels-g1-sandbox" }

[[apps]]
app_id = "p1"
kind = "miniprogram"
offer_id = "1450000002"
[apps.keys]
production = { value = "labels-p1-production" }
sandbox = { value = "labels-p1-sandbox" }

[audit]
path = "{audit}"
"""


def game_item(env: int, out_trade_no: str, product_id: str = "sword") -> pb.SignOrderRequest:
    return pb.SignOrderRequest(app_id="g1", env=env, api=pb.PAYMENT_API_GAME_ITEM, session_key=SESSION_KEY,
                               order=pb.Order(product_id=product_id, goods_price=600, buy_quantity=1,
                                              out_trade_no=out_trade_no))


def virtual_payment(env: int, out_trade_no: str) -> pb.SignOrderRequest:
    return pb.SignOrderRequest(app_id="p1", env=env, api=pb.PAYMENT_API_VIRTUAL_PAYMENT,
                               mode=pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS, session_key=SESSION_KEY,
                               order=pb.Order(product_id="gem", goods_price=600, buy_quantity=1,
                                              out_trade_no=out_trade_no, attach="a"))


def test_every_env_label_is_production_or_sandbox(tmp_path):
    config = write_config(tmp_path, CONFIG.replace("{audit}", str(tmp_path / "audit.log")))
    metrics_port = free_port()
    server = ServerProcess(config, "--workers", "1", "--metrics-listen", f"127.0.0.1:{metrics_port}")
    try:
        with signer_stub(int(server.address.rpartition(":")[2])) as stub:
            for env in (pb.ENV_PRODUCTION, pb.ENV_SANDBOX):
                stub.SignOrder(game_item(env, f"fast-{env}"), timeout=10)
                stub.SignOrder(virtual_payment(env, f"vp-fast-{env}"), timeout=10)
                # a product id longer than the audit line keeps whole: the fast path declines it
                stub.SignOrder(game_item(env, f"ref-{env}", product_id="x" * 200), timeout=10)
                batch = stub.BatchSignOrders(pb.BatchSignOrdersRequest(requests=[
                    game_item(env, f"batch-{env}-{i}") for i in range(3)]), timeout=10)
                assert [r.WhichOneof("outcome") for r in batch.results] == ["response"] * 3
                stub.SignApiCall(pb.SignApiCallRequest(
                    app_id="g1", env=env, uri="/xpay/query_user_balance", session_key=SESSION_KEY,
                    body='{"openid":"o1","env":%d}' % (env - 1)), timeout=10)
        samples = scrape_metrics(metrics_port)
    finally:
        assert server.stop() == 0
    envs = [m.group(1) for name in samples for m in re.finditer(r'\benv="([^"]*)"', name)]
    assert envs and set(envs) == {"production", "sandbox"}
    for env in ("production", "sandbox"):
        # 1 fast unary + 1 reference unary + 3 batch items
        assert samples[f'paysig_signatures_total{{api="PAYMENT_API_GAME_ITEM",app_id="g1",env="{env}"}}'] == 5
        assert samples[f'paysig_signatures_total{{api="PAYMENT_API_VIRTUAL_PAYMENT",app_id="p1",env="{env}"}}'] == 1
        assert samples[f'paysig_signatures_total{{api="/xpay/query_user_balance",app_id="g1",env="{env}"}}'] == 1
        version = [value for name, value in samples.items()
                   if name.startswith(f'paysig_key_version_signing{{app_id="g1",env="{env}",pid="')]
        assert version == [1]
