import os

import pytest

from support import CONFORMANCE_CONFIG, running_server, signer_stub

# Files the tests write (configs with inline keys, key files) are private, as
# paysig requires of files holding secrets; a test that needs another mode sets it.
os.umask(0o077)


@pytest.fixture(scope="session")
def conformance_port():
    with running_server(CONFORMANCE_CONFIG) as (_, port):
        yield port


@pytest.fixture(scope="session")
def stub(conformance_port):
    with signer_stub(conformance_port) as s:
        yield s
