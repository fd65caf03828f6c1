"""A devnet for the web page's tests, and the AI service beside it as `openledger serve --demo`.

The service is started as a user starts it (a process, the demo's model, adapters and API key)
so the page is tested against exactly what an operator serves. Dev accounts: the demo's 0
(owner), 1 (paying user), 2-4 (contributors) and 9 (operator); the page's wallet signs with 5,
the route tests with 6 and 7.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.ai_service import DemoService
from tests.helpers.devnet import Devnet


@pytest.fixture(scope="package")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    node = Devnet(tmp_path_factory.mktemp("web-devnet") / "data").start()
    yield node
    node.stop()


@pytest.fixture(scope="package")
def service(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoService]:
    running = DemoService(devnet, tmp_path_factory.mktemp("web-ai") / "data")
    yield running
    running.stop()
