"""mTLS caller selection: one rule (subject CN or a DNS SAN), ambiguity
refused at load and at the call (issue 12 item 7)."""

import grpc
import pytest

from paysig.server import ConfigError, load_config

from pki import Authority
from support import running_server
from test_security import expect_error, mtls_config as mtls, order, tls_client


CALLERS = """
[[callers]]
name = "game-a"
cert_common_name = "game-a"
apps = ["g1"]
[[callers]]
name = "game-b"
cert_san = "game-b.internal"
apps = ["g2"]
"""


@pytest.fixture
def pki(tmp_path):
    ca = Authority(tmp_path, "paysig-test-ca")
    return {
        "ca": ca,
        "server": ca.issue("server", dns=("localhost",), ips=("127.0.0.1",), server=True),
        "cn-a": ca.issue("game-a", server=False),
        "san-b": ca.issue("someone", dns=("GAME-B.internal",), server=False),
        "both": ca.issue("game-a", dns=("game-b.internal",), server=False, file_stem="both"),
        "uri-b": ca.issue("nobody", uris=("game-b.internal",), emails=("game-b.internal@example.org",),
                          server=False),
    }


def test_a_certificate_picks_exactly_one_caller(tmp_path, pki):
    with running_server(mtls(tmp_path, pki, CALLERS)) as (_, port):
        address = f"localhost:{port}"
        with tls_client(address, pki, "cn-a") as a:
            assert a.sign_order(order("g1")).key_version == 1
        with tls_client(address, pki, "san-b") as b:  # DNS names compare case-insensitively
            assert b.sign_order(order("g2")).key_version == 1
        with tls_client(address, pki, "uri-b") as u:  # only DNS SANs select a caller
            expect_error(lambda: u.sign_order(order("g2")), grpc.StatusCode.UNAUTHENTICATED,
                         "UNKNOWN_CLIENT_CERTIFICATE")
        with tls_client(address, pki, "both") as both:
            error = expect_error(lambda: both.sign_order(order("g1")), grpc.StatusCode.UNAUTHENTICATED,
                                 "AMBIGUOUS_CLIENT_CERTIFICATE")
            assert "game-a, game-b" in error.message


@pytest.mark.parametrize("callers, message", [
    ('[[callers]]\nname = "a"\ncert_common_name = "x"\napps = ["g1"]\n'
     '[[callers]]\nname = "b"\ncert_common_name = "x"\napps = ["g2"]\n', "callers[1] (b): cert_common_name, cert_san: 'x' also names caller 'a'"),
    ('[[callers]]\nname = "a"\ncert_common_name = "game.internal"\napps = ["g1"]\n'
     '[[callers]]\nname = "b"\ncert_san = "Game.Internal"\napps = ["g2"]\n', "'game.internal' also names caller 'a'"),
    ('[[callers]]\nname = "a"\ncert_san = "ops@example.org"\napps = ["g1"]\n',
     "callers[0] (a): cert_san: a DNS name"),
    ('[[callers]]\nname = "a"\ncert_san = "spiffe://example.org/a"\napps = ["g1"]\n',
     "callers[0] (a): cert_san: a DNS name"),
])
def test_ambiguous_or_non_dns_configs_are_refused(tmp_path, pki, callers, message):
    with pytest.raises(ConfigError) as info:
        load_config(mtls(tmp_path, pki, callers))
    assert message in str(info.value)


def test_one_caller_may_name_itself_by_cn_and_san(tmp_path, pki):
    config = load_config(mtls(tmp_path, pki, '[[callers]]\nname = "a"\ncert_common_name = "game.internal"\n'
                                             'cert_san = "game.internal"\napps = ["g1"]\n'))
    assert [c.name for c in config.access.callers] == ["a"]
