"""The ModelFactory page in headless Chromium (page_test.mjs, playwright-core + Debian's
chromium) against `openledger serve --demo` on a devnet: browse and contribute through a wallet,
fine-tune with a live loss curve, stream a chat answer, and read a contributor's rewards.

The browser script runs once per module and reports what it saw as JSON; the tests assert on
that report, and on the chain where the page claims to have changed it. Screenshots of each tab
go to tests/artifacts/web/.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from serving.demo import dev_account
from tests.helpers.ai_service import DemoService
from tests.helpers.devnet import REPO_ROOT, Devnet
from tests.serving.onchain import clients

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("page_test.mjs")
SCREENSHOTS = REPO_ROOT / "tests" / "artifacts" / "web"
CHROMIUM = Path("/usr/bin/chromium")
WALLET, CONTRIBUTOR = 5, 2
"""Dev accounts: the page's wallet, and a demo contributor whose rewards the page reads."""
DEMO_DATANET = 1
SCRIPT_TIMEOUT_S = 280


@pytest.fixture(scope="module")
def report(
    devnet: Devnet, service: DemoService, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Run the browser script once and parse its report; its stderr is the failure message."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` is not on PATH")
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    config = {
        "url": service.root + "/",
        "rpcUrl": devnet.url,
        "apiKey": service.demo["api_key"],
        "walletIndex": WALLET,
        "chatModel": service.demo["adapters"]["demo-poet"],
        "rewardsAddress": dev_account(CONTRIBUTOR).address,
        "datanetId": DEMO_DATANET,
        "screenshots": str(SCREENSHOTS),
    }
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # only this run's screenshots
    config_file = tmp_path_factory.mktemp("page") / "config.json"
    config_file.write_text(json.dumps(config))
    result = subprocess.run(
        [node, str(SCRIPT), str(config_file)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
    )
    if result.returncode != 0:
        service_log = service.log_tail()
        pytest.fail(
            f"page_test.mjs failed ({result.returncode}):\n{result.stderr}\n{result.stdout}\n"
            f"service log tail:\n{service_log}",
            pytrace=False,
        )
    return json.loads(result.stdout)


def test_the_page_loads_without_errors(report: dict[str, Any]) -> None:
    assert report["title"] == "OpenLedger ModelFactory"
    assert report["error_shown"] is None
    assert not [line for line in report["console"] if line.startswith(("error", "pageerror"))]
    assert report["stored_api_key"].startswith("ol1_")
    assert {Path(p).name for p in report["screenshots"]} == {
        "datanets.png",
        "fine-tune.png",
        "chat.png",
        "rewards.png",
    }
    assert all(Path(p).stat().st_size > 0 for p in report["screenshots"])


def test_datanets_are_listed_and_a_file_is_contributed_through_the_wallet(
    devnet: Devnet, report: dict[str, Any]
) -> None:
    datanets = report["datanets"]
    assert datanets["listed"] >= 1 and datanets["versions"] >= 1
    upload = report["upload"]
    assert upload["shown_sha256"] == upload["expected_sha256"]
    assert datanets["contributions_after"] == datanets["contributions_before"] + 1
    assert set(report["wallet"]["calls"]) >= {"eth_requestAccounts", "eth_sendTransaction"}
    registry = clients(devnet).datanets
    newest = registry.contribution(registry.contribution_ids(DEMO_DATANET)[-1])
    assert newest.content_hash.hex() == upload["expected_sha256"]
    assert newest.contributor == report["wallet"]["address"] == dev_account(WALLET).address
    assert newest.size == upload["bytes"]
    assert newest.uri == f"sha256:{upload['expected_sha256']}"


def test_without_a_wallet_the_page_shows_the_command_line(report: dict[str, Any]) -> None:
    shown = report["without_wallet"]
    digest = shown["sha256"]
    assert shown["command"] == (
        f"openledger datanet contribute {DEMO_DATANET} --hash 0x{digest}"
        f" --size {shown['bytes']} --uri sha256:{digest}"
    )


def test_a_fine_tune_draws_its_loss_curve_live_and_succeeds(report: dict[str, Any]) -> None:
    job = report["fine_tune"]
    assert job["job_id"].startswith("ftjob-")
    assert job["status"] == "succeeded", job["model"]
    assert job["points"] >= 2 and job["eval_points"] >= 1
    assert len(job["polyline"].split()) == job["points"]
    assert job["points_while_running"] >= 1, "no loss point was drawn before the job ended"
    assert "served as adapter-" in job["model"]


def test_a_chat_answer_streams_in(report: dict[str, Any]) -> None:
    chat = report["chat"]
    assert chat["answer"].strip()
    assert chat["updates"] >= 3, "the answer arrived in one piece, not streamed"


def test_the_paid_chat_shows_who_is_credited(report: dict[str, Any]) -> None:
    """The demo adapters were uploaded, not trained here: the Datanet pool is credited."""
    attribution = report["attribution"]
    assert "pool (pool), settled in 0x" in attribution["summary"]
    contributors = {dev_account(index).address for index in (2, 3, 4)}
    assert {row[1] for row in attribution["rows"]} == contributors
    assert [row[3] for row in attribution["rows"]] == ["1", "1", "1"]


def test_a_contributor_sees_the_rewards_of_the_paid_chat(
    devnet: Devnet, report: dict[str, Any]
) -> None:
    rewards = report["rewards"]
    payments = clients(devnet).payments
    claimable = payments.rewards_of(rewards["address"])
    assert claimable > 0
    whole, _, fraction = rewards["claimable"].partition(".")
    assert int(whole) * 10**18 + int(fraction.ljust(18, "0") or 0) == claimable
    assert [row[0] for row in rewards["earnings"]] == [str(DEMO_DATANET)]
    assert rewards["contributions"] != "none"


def test_the_uploaded_bytes_are_served_back(service: DemoService, report: dict[str, Any]) -> None:
    digest = report["upload"]["expected_sha256"]
    stored = requests.get(f"{service.root}/v1/contributions/{digest}", timeout=10)
    assert stored.ok and hashlib.sha256(stored.content).hexdigest() == digest
