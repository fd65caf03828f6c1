"""The AI service as a user meets it: `openledger serve --demo` beside a devnet, and `openai`.

Two device slots for six adapters, so concurrent requests force eviction and reload; every greedy
answer must equal what plain PEFT gives for the same adapter alone; a paid request must show up
in an on-chain settlement; an adapter whose weights do not match its on-chain hash is never served.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest
import requests
from eth_utils import keccak
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from serving.catalog import ContentStore
from serving.demo import PRICE, dev_account
from serving.random_adapter import random_lora_adapter
from tests.helpers.ai_service import DemoService, city_datanet
from tests.helpers.devnet import OPENLEDGER_BIN, Devnet
from tests.helpers.waiting import wait_for
from tests.serving.onchain import clients

pytestmark = pytest.mark.slow

PROMPTS = ["The ledger records", "A model answers", "Every block", "Rewards are split"]


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    node = Devnet(tmp_path_factory.mktemp("devnet") / "data").start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def service(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoService]:
    data_dir = tmp_path_factory.mktemp("ai") / "data"
    tiers = ["--max-active-adapters", "2", "--max-host-adapters", "2"]  # eviction is normal
    running = DemoService(devnet, data_dir, *tiers)
    yield running
    running.stop()


def peft_text(base_dir: Path, adapter_dir: Path, prompt: str, max_tokens: int) -> str:
    """Greedy text of plain transformers + PEFT for one request alone, cut at end of text."""
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), adapter_dir)
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    out = model.generate(
        ids, max_new_tokens=max_tokens, do_sample=False, pad_token_id=tokenizer.eos_token_id
    )
    tokens = out[0, ids.shape[1] :].tolist()
    if tokenizer.eos_token_id in tokens:
        tokens = tokens[: tokens.index(tokenizer.eos_token_id)]
    return tokenizer.decode(tokens)


def register_extra_adapters(devnet: Devnet, service: DemoService, count: int) -> dict[str, Path]:
    """`count` more adapters in the store and on chain: six in all for two device slots."""
    owner = clients(devnet, dev_account(0))
    base_dir = Path(service.demo["base_model"])
    version = owner.datanets.datanet(1).latest_version
    extra = {}
    for seed in range(count):
        source = random_lora_adapter(base_dir, service.data_dir / "extra" / str(seed), 100 + seed)
        digest = ContentStore(service.data_dir / "adapters").put(source)
        adapter_id = owner.models.register_adapter(
            service.demo["base_model_id"], 1, version, bytes.fromhex(digest), f"extra-{seed}", PRICE
        ).value
        extra[f"adapter-{adapter_id}"] = source
    return extra


def test_models_list_the_base_and_every_registered_adapter(service: DemoService) -> None:
    ids = [model.id for model in service.client().models.list().data]
    assert ids[0] == "tiny-gpt2"
    assert set(service.demo["adapters"].values()) <= set(ids)


def test_concurrent_mixed_adapters_equal_peft_alone(devnet: Devnet, service: DemoService) -> None:
    extra = register_extra_adapters(devnet, service, 3)
    demo_dirs = {
        card: service.data_dir / "incoming" / name
        for name, card in service.demo["adapters"].items()
    }
    adapter_dirs = {**demo_dirs, **extra}
    wait_for(lambda: set(adapter_dirs) <= {m.id for m in service.client().models.list().data})
    jobs = [(card, PROMPTS[i % len(PROMPTS)]) for i, card in enumerate(adapter_dirs)] * 3
    client = service.client()

    def ask(job: tuple[str, str]) -> str:
        card, prompt = job
        answer = client.completions.create(model=card, prompt=prompt, max_tokens=12, temperature=0)
        return answer.choices[0].text

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        answers = list(pool.map(ask, jobs))
    base_dir = Path(service.demo["base_model"])
    for (card, prompt), text in zip(jobs, answers, strict=True):
        assert text == peft_text(base_dir, adapter_dirs[card], prompt, 12), card
    metrics = requests.get(service.root + "/metrics", timeout=5).text
    evictions = next(
        line
        for line in metrics.splitlines()
        if line.startswith("openledger_adapter_moves_total") and "evictions" in line
    )
    assert float(evictions.split()[-1]) > 0


def test_chat_stream_and_openai_errors(service: DemoService) -> None:
    client = service.client()
    chat = client.chat.completions.create(
        model="demo-poet", messages=[{"role": "user", "content": "Hello"}], max_tokens=6
    )
    assert chat.choices[0].message.role == "assistant" and chat.usage.completion_tokens > 0
    chunks = list(
        client.chat.completions.create(
            model="demo-lawyer",
            messages=[{"role": "user", "content": "Hello"}],
            max_tokens=6,
            stream=True,
        )
    )
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="no-such-model", prompt="x")
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model="demo-poet", prompt="x", temperature=-1)
    with pytest.raises(openai.AuthenticationError):
        service.client("ol1_not-a-key").completions.create(model="demo-poet", prompt="x")


def test_a_paid_answer_is_settled_on_chain(devnet: Devnet, service: DemoService) -> None:
    payments = clients(devnet).payments
    user = service.demo["user"]
    before = payments.balance_of(user)
    raw = service.client().completions.with_raw_response.create(
        model="demo-coder", prompt="Data flows", max_tokens=5, temperature=0
    )
    answer = raw.parse()
    assert raw.headers["openledger-response-id"] == answer.id
    output = keccak(
        text=json.dumps([answer.choices[0].text], ensure_ascii=False, separators=(",", ":"))
    )

    def settled() -> bool:
        events = payments.contract.events.InferenceSettled().get_logs(from_block=0)
        return any(bytes(event.args.outputHash) == output for event in events)

    wait_for(settled)
    assert payments.balance_of(user) <= before - PRICE

    def attribution() -> dict:
        report = requests.get(f"{service.api}/attribution/{answer.id}", timeout=10).json()
        return report if report["settlement"]["tx_hash"] else {}

    report = wait_for(attribution)
    demo_contributors = {dev_account(index).address for index in (2, 3, 4)}
    assert (report["response_id"], report["status"]) == (answer.id, "settled")
    assert (report["method"], report["basis"]) == ("pool", "pool")  # an uploaded adapter
    assert {c["contributor"] for c in report["contributions"]} == demo_contributors
    assert [c["weight"] for c in report["contributions"]] == [1, 1, 1]
    missing = requests.get(f"{service.api}/attribution/resp_unknown", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "response_not_found"

    shown = attribution_cli(service, answer.id, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == report
    table = attribution_cli(service, answer.id)
    assert report["settlement"]["tx_hash"] in table.stdout
    assert all(c["contributor"] in table.stdout for c in report["contributions"])
    unknown = attribution_cli(service, "resp_unknown")
    assert unknown.returncode == 2 and "resp_unknown" in unknown.stderr


def attribution_cli(service: DemoService, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(OPENLEDGER_BIN), "attribution", "show", "--service", service.root, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_an_adapter_with_a_wrong_hash_is_never_served(devnet: Devnet, service: DemoService) -> None:
    owner = clients(devnet, dev_account(0))
    real = service.data_dir / "incoming" / "demo-poet"
    claimed = keccak(text="weights nobody has")
    forged = service.data_dir / "adapters" / claimed.hex()
    forged.mkdir(parents=True)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        (forged / name).write_bytes((real / name).read_bytes())
    adapter_id = owner.models.register_adapter(
        service.demo["base_model_id"],
        1,
        owner.datanets.datanet(1).latest_version,
        claimed,
        "forged",
        PRICE,
    ).value
    marker = register_extra_adapters(devnet, service, 1)  # registered after: refreshed past it
    wait_for(lambda: set(marker) <= {m.id for m in service.client().models.list().data})
    with pytest.raises(openai.NotFoundError):
        service.client().completions.create(model=f"adapter-{adapter_id}", prompt="x")
    log = service.log.read_text()
    assert f"adapter {adapter_id} refused, never served" in log


def test_contribution_bytes_are_stored_by_their_sha256(service: DemoService) -> None:
    root = service.root
    content = b'{"instruction": "Name the chain", "output": "OpenLedger"}\n'
    stored = requests.post(f"{root}/v1/contributions", data=content, timeout=10)
    assert stored.status_code == 201
    digest = stored.json()["sha256"]
    assert digest == hashlib.sha256(content).hexdigest()
    assert requests.get(f"{root}/v1/contributions/{digest}", timeout=10).content == content
    assert requests.get(f"{root}/v1/contributions/{'0' * 64}", timeout=10).status_code == 404


def test_a_fine_tune_on_a_datanet_version_is_registered_and_served(
    devnet: Devnet, service: DemoService
) -> None:
    """ModelFactory end to end: contributions -> datanet version -> job -> adapter on chain."""
    owner = clients(devnet, dev_account(0))
    datanet = city_datanet(devnet, service, "capitals")
    client = service.client()  # the demo API key: creating a job needs one
    job = client.fine_tuning.jobs.create(
        model="tiny-gpt2",
        training_file=datanet.training_file,
        hyperparameters={"n_epochs": 2, "batch_size": 4},
        suffix="capitals",
    )

    def finished() -> bool:
        return client.fine_tuning.jobs.retrieve(job.id).status in ("succeeded", "failed")

    wait_for(finished, timeout=180)
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded", done.error
    published = done.model_extra["result"]["hook"]
    assert published["registered"]
    user = service.demo["user"]  # the API key's: the model builder earns the owner share
    assert done.model_extra["owner"] == published["owner"] == user
    adapter = owner.models.adapter(published["adapter_id"])
    assert adapter.owner == user
    assert (adapter.datanet_id, adapter.datanet_version) == (datanet.datanet_id, datanet.version)
    assert adapter.weights_hash.hex() == published["sha256"]
    wait_for(lambda: published["model"] in {m.id for m in client.models.list().data})
    answer = client.completions.create(model=published["model"], prompt="Name city 1", max_tokens=4)
    assert answer.usage.completion_tokens > 0
    assert any(e.message for e in client.fine_tuning.jobs.list_events(job.id).data)

    # Proof of Attribution: the trained adapter carries gradient features, so its paid answer
    # is scored (not pooled), over exactly the contributions it was trained on.
    built = done.model_extra["result"]["attribution"]
    assert (built["method"], built["contributions"]) == ("trak-unit", 3)

    def scored() -> dict:
        report = requests.get(f"{service.api}/attribution/{answer.id}", timeout=10).json()
        return report if report["settlement"]["tx_hash"] else {}

    report = wait_for(scored)
    assert report["method"] == "trak-unit"
    listed = {c["contribution_id"] for c in report["contributions"]}
    assert listed == set(datanet.contribution_ids)
    paid = [c for c in report["contributions"] if c["weight"] > 0]
    if report["basis"] == "influence":
        assert sum(c["weight"] for c in paid) == 1_000_000
        assert all(c["score"] > 0 for c in paid)
    else:
        assert report["basis"] == "pool" and len(paid) == 3
