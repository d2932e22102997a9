"""The error-code table of wechat_errors.py is the spec's (section 8): every
row of the copy in tests/fixtures is in the data, and nothing else is."""

import re

from paysig.server import wechat_errors
from paysig.server.wechat_errors import Api, Column
from support import REPO

FIXTURE = REPO / "tests" / "fixtures" / "wechat-error-codes.md"
CODE = re.compile(r"(-?\d+)(?: (.+))?")


def spec_entries() -> dict[tuple[str, int], tuple[set[str], str]]:
    """{(api row name, code): (column names, note)} parsed from the spec's rows."""
    lines = [line for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    entries: dict[tuple[str, int], tuple[set[str], str]] = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        api = cells[0]
        for column, cell in zip(header[1:], cells[1:]):
            if not cell:
                continue
            for part in re.split(r",\s*(?=-?\d+\b)", cell):
                match = CODE.fullmatch(part.strip())
                assert match, part
                code, note = int(match.group(1)), match.group(2) or ""
                columns, old_note = entries.get((api, code), (set(), ""))
                entries[(api, code)] = (columns | {column}, note or old_note)
    return entries


def test_the_data_is_exactly_the_spec_table():
    spec = spec_entries()
    data = {(e.api.value, e.code): ({c.value for c in e.columns}, e.note) for e in wechat_errors.ERRORS}
    assert len(spec) == 27
    assert data == spec


def test_the_same_number_means_different_things_per_api():
    game = wechat_errors.meaning(Api.GAME_ITEM, -15014)
    virtual = wechat_errors.meaning(Api.VIRTUAL_PAYMENT, -15014)
    assert "paySig" in game and "not yet effective" in virtual
    both = wechat_errors.meaning(None, -15014)
    assert game in both and virtual in both
    assert wechat_errors.rejects(Api.XPAY, 268490003) == (Column.USER_SIGNATURE, Column.PAY_SIG)
    assert "session_key expired" in wechat_errors.meaning(Api.GAME_ITEM, -15015)
    assert "not a code" in wechat_errors.meaning(Api.WXA_GAME, -15014)


def test_api_of_method():
    assert wechat_errors.api_of_method("requestMidasPaymentGameItem") is Api.GAME_ITEM
    assert wechat_errors.api_of_method("requestVirtualPayment") is Api.VIRTUAL_PAYMENT
    assert wechat_errors.api_of_method("/xpay/query_order") is Api.XPAY
    assert wechat_errors.api_of_method("/wxa/game/pay") is Api.WXA_GAME
    assert wechat_errors.api_of_method("minigame_game_pay_goods_deliver_notify") is None
