"""The devnet's AI demo: a local base model, a few adapters on chain, and a paid API key.

A newcomer runs `make devnet` and can call the service with the `openai` client at once, with no
model download: the base model is the tiny GPT-2 of `serving.tiny_model`, the adapters are
rank-4/8 LoRAs with random weights (ModelFactory trains real ones), registered in the
ModelRegistry on a small approved Datanet, and dev account 1 has prepaid OPEN and a signed
spending session for the operator (dev account 9) printed as its API key.

Everything is recorded in `<data_dir>/demo.json`, so a restart on the same chain reuses it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from openledger.accounts import dev_accounts
from openledger.config import DEV_MNEMONIC
from serving.billing import make_api_key
from serving.catalog import ContentStore
from serving.chain import ChainClients, connect_contracts
from serving.factory.data.store import CONTRIBUTIONS_DIR, ContributionStore
from serving.random_adapter import random_lora_adapter
from serving.service import local_weights_sha256
from serving.tiny_model import CORPUS, build_tiny_model

log = logging.getLogger(__name__)

DEMO_FILE = "demo.json"
BASE_NAME = "tiny-gpt2"
OWNER, USER, OPERATOR = 0, 1, 9
"""Dev account indexes: model and datanet owner, paying user, serving operator."""
OPEN = 10**18
PRICE = OPEN // 1000
DEMO_ADAPTERS = {
    "demo-poet": {"r": 8, "lora_alpha": 16},
    "demo-lawyer": {"r": 4, "lora_alpha": 8},
    "demo-coder": {"r": 8, "lora_alpha": 32, "target_modules": ["c_attn"]},
}


@dataclass(frozen=True)
class Demo:
    base_model: str
    base_model_id: int
    adapters: dict[str, str]
    """Adapter name (its on-chain uri, usable as `model`) -> card id `adapter-<id>`."""
    api_key: str
    user: str
    operator_key: str


def dev_account(index: int) -> LocalAccount:
    return Account.from_key(dev_accounts(DEV_MNEMONIC, index + 1)[index].private_key)


def prepare_demo(rpc_url: str, deployment: Path | None, data_dir: Path) -> Demo:
    """Create (or reuse) the demo model, adapters, datanet, deposit and API key."""
    record = data_dir / DEMO_FILE
    if record.is_file():
        return Demo(**json.loads(record.read_text()))
    owner = connect_contracts(rpc_url, deployment, dev_account(OWNER).key)
    base_dir = build_tiny_model(data_dir / "models" / BASE_NAME)
    weights = local_weights_sha256(str(base_dir))
    assert weights is not None
    base_model_id = owner.models.register_base_model(
        BASE_NAME, bytes.fromhex(weights), "https://openledger.dev/licenses/demo"
    ).value
    contributions = ContributionStore(data_dir / CONTRIBUTIONS_DIR)
    datanet_id, version = _demo_datanet(owner, rpc_url, deployment, contributions)
    adapters: dict[str, str] = {}
    for seed, (name, lora) in enumerate(DEMO_ADAPTERS.items()):
        staging = random_lora_adapter(base_dir, data_dir / "incoming" / name, seed, **lora)
        digest = ContentStore(data_dir / "adapters").put(staging)
        adapter_id = owner.models.register_adapter(
            base_model_id, datanet_id, version, bytes.fromhex(digest), name, PRICE
        ).value
        adapters[name] = f"adapter-{adapter_id}"
    user = dev_account(USER)
    payer = connect_contracts(rpc_url, deployment, user.key)
    payer.payments.deposit(10 * OPEN)
    operator = dev_account(OPERATOR)
    api_key = make_api_key(
        user,
        operator.address,
        payer.transactor.chain_id(),
        payer.payments.address,
        max_total=5 * OPEN,
        expiry=int(time.time()) + 30 * 24 * 3600,
    )
    demo = Demo(str(base_dir), base_model_id, adapters, api_key, user.address, operator.key.hex())
    record.write_text(json.dumps(asdict(demo), indent=2))
    log.info("demo prepared: base model %d, adapters %s", base_model_id, adapters)
    return demo


def _demo_datanet(
    owner: ChainClients, rpc_url: str, deployment: Path | None, store: ContributionStore
) -> tuple[int, int]:
    """A datanet whose contributions are the shipped corpus, one paragraph per contributor.

    The bytes go into the service's contribution store too, as a contributor's upload would,
    so that a fine-tune on the demo datanet finds them."""
    datanet_id = owner.datanets.create_datanet("openledger://demo/tiny-corpus", 0).value
    paragraphs = [p for p in CORPUS.read_text().split("\n\n") if p.strip()][:3]
    ids = []
    for index, paragraph in enumerate(paragraphs, start=2):
        contributor = connect_contracts(rpc_url, deployment, dev_account(index).key)
        content = paragraph.encode()
        store.put(content)
        ids.append(
            contributor.datanets.contribute(
                datanet_id,
                hashlib.sha256(content).digest(),
                f"openledger://demo/tiny-corpus/{index}",
                len(content),
            ).value
        )
    version = owner.datanets.approve(ids).value.version
    return datanet_id, version
