import pytest

from support import CONFORMANCE_CONFIG, running_server, signer_stub


@pytest.fixture(scope="session")
def conformance_port():
    with running_server(CONFORMANCE_CONFIG) as (_, port):
        yield port


@pytest.fixture(scope="session")
def stub(conformance_port):
    with signer_stub(conformance_port) as s:
        yield s
