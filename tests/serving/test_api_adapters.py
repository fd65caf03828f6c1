"""`POST /v1/adapters`: real PEFT adapters of the tiny model into a real `AdapterManager`."""

import json
from pathlib import Path

import httpx2
import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from serving.lora.layers import BatchMapping, wrap_lora_layers
from serving.lora.manager import AdapterManager, sha256_file
from serving.lora.slots import CONFIG_FILE, WEIGHTS_FILE, AdapterSlots
from serving.tiny_model import build_tiny_model
from tests.serving.test_api import ScriptedEngine, Service, start_service

TARGETS = ["c_attn", "c_proj", "c_fc"]
MAX_RANK = 8


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"))


def save_adapter(base_dir: Path, out: Path, rank: int, seed: int) -> Path:
    config = LoraConfig(
        task_type="CAUSAL_LM", r=rank, lora_alpha=8, target_modules=TARGETS, fan_in_fan_out=True
    )
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir), config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.1)
    peft_model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def adapter_dirs(base_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {
        "good": save_adapter(base_dir, root / "good", rank=4, seed=0),
        "other": save_adapter(base_dir, root / "other", rank=4, seed=1),
        "too_big_rank": save_adapter(base_dir, root / "too_big_rank", rank=16, seed=2),
    }


@pytest.fixture
def upload_service(base_dir: Path, tmp_path: Path):
    """serve(**limits): the app over a real manager of 2 slots on the tiny model."""
    servers = []

    def start(**limits) -> tuple[Service, AdapterManager]:
        model = AutoModelForCausalLM.from_pretrained(base_dir)
        layers = wrap_lora_layers(model, TARGETS, 2, MAX_RANK, BatchMapping())
        manager = AdapterManager(AdapterSlots(layers), tmp_path / "store", host_capacity=2)
        tokenizer = AutoTokenizer.from_pretrained(base_dir)
        server, service = start_service(ScriptedEngine(tokenizer), tokenizer, manager, **limits)
        servers.append(server)
        return service, manager

    yield start
    for server in servers:
        server.stop()


def files_of(directory: Path, **replace: bytes) -> dict[str, tuple[str, bytes]]:
    return {
        name: (name, replace.get(name, (directory / name).read_bytes()))
        for name in (CONFIG_FILE, WEIGHTS_FILE)
    }


def upload(service: Service, files, data=None, key: str | None = None) -> httpx2.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx2.post(service.url + "/v1/adapters", files=files, data=data, headers=headers)


def stored(manager: AdapterManager) -> list[str]:
    return sorted(p.name for p in manager.store.iterdir())


def test_upload_stores_the_adapter_and_answers_its_sha256(upload_service, adapter_dirs):
    service, manager = upload_service()
    good = adapter_dirs["good"]
    digest = sha256_file(good / WEIGHTS_FILE)
    response = upload(service, files_of(good), {"adapter_id": "keeper-v1"})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": "keeper-v1", "sha256": digest, "object": "adapter"}
    assert manager.registered() == ["keeper-v1"]
    assert stored(manager) == [digest]
    assert (manager.store / digest / CONFIG_FILE).read_bytes() == (good / CONFIG_FILE).read_bytes()
    manager.prefetch(["keeper-v1"])  # the stored copy loads into the served layers

    again = upload(service, files_of(good), {"adapter_id": "keeper-v1"})
    assert again.json() == response.json()  # the same content again changes nothing
    unnamed = upload(service, files_of(good))
    assert unnamed.json()["id"] == digest
    assert stored(manager) == [digest]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("not_lora", 400),
        ("not_json", 400),
        ("rank_too_big", 400),
        ("missing_weights", 400),
        ("bad_id", 400),
        ("id_taken", 400),
        ("too_large", 413),
    ],
)
def test_bad_uploads_store_nothing(upload_service, adapter_dirs, case, status):
    service, manager = upload_service(max_upload_bytes=200_000)
    good = adapter_dirs["good"]
    config = json.loads((good / CONFIG_FILE).read_text())
    data = {"adapter_id": "keeper-v1"}
    files = files_of(good)
    if case == "not_lora":
        files = files_of(good, **{CONFIG_FILE: json.dumps({**config, "peft_type": "IA3"}).encode()})
    elif case == "not_json":
        files = files_of(good, **{CONFIG_FILE: b"{"})
    elif case == "rank_too_big":
        files = files_of(adapter_dirs["too_big_rank"])
    elif case == "missing_weights":
        del files[WEIGHTS_FILE]
    elif case == "bad_id":
        data = {"adapter_id": "../etc"}
    elif case == "id_taken":
        manager.register("keeper-v1", adapter_dirs["other"])
    elif case == "too_large":
        files = files_of(good, **{WEIGHTS_FILE: b"\0" * 300_000})
    before = stored(manager)
    response = upload(service, files, data)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    assert stored(manager) == before  # refused before anything is copied into the store
    assert manager.registered() == (["keeper-v1"] if case == "id_taken" else [])


def test_uploads_need_the_admin_key_when_one_is_set(upload_service, adapter_dirs):
    service, manager = upload_service(admin_key="operator-secret")
    files = files_of(adapter_dirs["good"])
    assert upload(service, files).status_code == 401
    assert upload(service, files, key="wrong").status_code == 401
    assert manager.registered() == []
    assert upload(service, files, key="operator-secret").status_code == 200
