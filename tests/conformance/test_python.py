"""Every conformance case through the Python client, blocking and asyncio."""

import asyncio

import pytest

from paysig.client import AsyncClient, Client
from runner import CASES, run, run_async


@pytest.fixture(scope="module")
def client(conformance_port):
    with Client(f"127.0.0.1:{conformance_port}") as c:
        yield c


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(client, case):
    run(client, case)


def test_every_case_through_the_async_client(conformance_port):
    async def main():
        failures = []
        async with AsyncClient(f"127.0.0.1:{conformance_port}") as client:
            for case in CASES:
                try:
                    await run_async(client, case)
                except AssertionError as e:
                    failures.append(f"{case['name']}: {e}")
        return failures

    assert asyncio.run(main()) == []
