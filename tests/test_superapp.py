"""Super-app apps: the host's currencies (config `currencies`) and the push's
string "Env" (issue 13 items 3 and 4), through the operations in process.
Expected signatures come from hmac/hashlib here, never from paysig."""

import textwrap

import pytest

from paysig.server import load_config
from paysig.server.errors import PaysigError
from paysig.server.ops.sign_order import sign_order
from paysig.server.ops.verify_signature import verify_signature
from paysig.v1 import signer_pb2 as pb
from support import hex_hmac

EVENT = "minigame_game_pay_goods_deliver_notify"
CONFIG = textwrap.dedent("""\
    [[apps]]
    app_id = "host"
    kind = "superapp"
    currencies = ["USD", "SGD"]
    [apps.keys]
    production = { value = "host-key" }

    [[apps]]
    app_id = "any"
    kind = "superapp"
    [apps.keys]
    production = { value = "any-key" }

    [[apps]]
    app_id = "mg"
    kind = "minigame"
    offer_id = "1450000001"
    [apps.keys]
    production = { value = "mg-key" }
    """)


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("superapp") / "paysig.toml"
    path.write_text(CONFIG)
    return load_config(path)


def order(app_id: str, currency: str) -> pb.SignOrderRequest:
    return pb.SignOrderRequest(app_id=app_id, api=pb.PAYMENT_API_GAME_ITEM, session_key="sk", order=pb.Order(
        product_id="gem", goods_price=99, buy_quantity=1, out_trade_no="o-1", currency_type=currency))


def violations(error: PaysigError) -> list[tuple[str, str]]:
    return [(v.field, v.rule.value) for v in error.violations]


@pytest.mark.parametrize("currency", ["USD", "SGD"])
def test_a_listed_currency_signs(config, currency):
    response = sign_order(config, order("host", currency))
    assert f'"currencyType":"{currency}"' in response.sign_data
    assert response.pay_sig == hex_hmac("host-key", f"requestMidasPaymentGameItem&{response.sign_data}")


@pytest.mark.parametrize("currency", ["EUR", "CNY", "", "usd", "XYZ"])
def test_any_other_currency_is_refused_before_anyone_pays(config, currency):
    with pytest.raises(PaysigError) as info:
        sign_order(config, order("host", currency))
    assert info.value.code.value == "INVALID_ARGUMENT"
    assert violations(info.value) == [("order.currency_type", "UNSUPPORTED")]
    assert "USD, SGD" in info.value.violations[0].description


@pytest.mark.parametrize("currency, signs", [("EUR", True), ("JPY", True), ("CNY", True), ("XYZ", False),
                                             ("usd", False)])
def test_without_a_list_any_active_iso_4217_code(config, currency, signs):
    if signs:
        assert f'"currencyType":"{currency}"' in sign_order(config, order("any", currency)).sign_data
    else:
        with pytest.raises(PaysigError) as info:
            sign_order(config, order("any", currency))
        assert violations(info.value) == [("order.currency_type", "UNSUPPORTED")]


def push(app_id: str, env_json: str, key: str) -> pb.VerifySignatureRequest:
    payload = f'{{"OpenId":"o1","Env":{env_json},"OutTradeNo":"o-1","GoodsInfo":{{"ProductId":"gem","Quantity":1}}}}'
    return pb.VerifySignatureRequest(app_id=app_id, scheme=pb.SIGNATURE_SCHEME_EVENT, method=EVENT, payload=payload,
                                     signature=hex_hmac(key, f"{EVENT}&{payload}"))


@pytest.mark.parametrize("env_json", ['"0"', "0"])
def test_superapp_push_env_as_string_or_number(config, env_json):
    response = verify_signature(config, push("any", env_json, "any-key"))
    assert response.valid and response.key_version == 1 and response.env == pb.ENV_PRODUCTION
    assert not verify_signature(config, push("any", env_json, "other-key")).valid


def test_superapp_push_env_1_asks_for_the_missing_sandbox_key(config):
    with pytest.raises(PaysigError) as info:
        verify_signature(config, push("any", '"1"', "any-key"))
    assert info.value.reason == "KEY_NOT_CONFIGURED"


@pytest.mark.parametrize("env_json", ['"00"', '"production"', '" 0"', "true", "null", "0.0"])
def test_superapp_push_other_env_values_are_format(config, env_json):
    with pytest.raises(PaysigError) as info:
        verify_signature(config, push("any", env_json, "any-key"))
    assert violations(info.value) == [("payload.Env", "FORMAT")]


def test_wechat_push_stays_strict(config):
    with pytest.raises(PaysigError) as info:
        verify_signature(config, push("mg", '"0"', "mg-key"))
    assert violations(info.value) == [("payload.Env", "FORMAT")]
    assert "JSON number" in info.value.violations[0].description
    assert verify_signature(config, push("mg", "0", "mg-key")).valid


def test_the_string_form_is_for_pushes_only(config):
    """A super-app API body or signData with "env":"0" is still malformed."""
    request = pb.VerifySignatureRequest(app_id="any", scheme=pb.SIGNATURE_SCHEME_PAY_SIG, method="/xpay/query_order",
                                        payload='{"env":"0"}', signature="0" * 64)
    with pytest.raises(PaysigError) as info:
        verify_signature(config, request)
    assert violations(info.value) == [("payload.env", "FORMAT")]
