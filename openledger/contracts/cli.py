"""``openledger datanet|model|rewards``: the Payable-AI contracts from a shell.

Each command connects to ``--rpc``, finds the contracts through ``openledger_rollupConfig`` and
signs with ``--key``; on the devnet (chain id 901) the key defaults to dev account 0, as
``cast`` and Foundry scripts default to anvil's first account. Output is one line per fact,
or one JSON object with ``--json`` for scripts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from decimal import Context, Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address

from openledger.accounts import dev_accounts
from openledger.config import DEV_MNEMONIC
from openledger.contracts.artifacts import L2_CONTRACTS, load_artifact
from openledger.contracts.client import Transacted
from openledger.contracts.datanets import DatanetRegistryClient
from openledger.contracts.exceptions import ContractError
from openledger.contracts.models import NO_MANIFEST, ModelRegistryClient
from openledger.contracts.payments import PaymentsClient
from openledger.contracts.rollup import DEVNET_CHAIN_ID, RollupConfig, fetch_rollup_config
from openledger.contracts.transactor import Receipt, Transactor, connect
from openledger.types import Wei

DEFAULT_RPC = "http://127.0.0.1:8545"

UNITS = {"wei": 1, "gwei": 10**9, "ether": 10**18, "open": 10**18}
"""Suffixes accepted by :func:`parse_wei`; OPEN has 18 decimals like ether."""

EXACT = Context(prec=200)
"""Decimal's default 28 digits would round large wei amounts; 200 covers any uint256."""

Handler = Callable[[argparse.Namespace], int]


class UsageError(ContractError):
    """A command-line value that cannot be used (bad amount, hash or address)."""


# --- argument types ----------------------------------------------------------------------


def parse_wei(text: str) -> Wei:
    """``1000``, ``1.5ether``, ``2 gwei``, ``10open`` -> wei; exact (Decimal), never a float."""
    raw = text.strip().lower().replace(" ", "").replace("_", "")
    unit = next((u for u in sorted(UNITS, key=len, reverse=True) if raw.endswith(u)), "wei")
    number = raw[: len(raw) - len(unit)] if raw.endswith(unit) else raw
    try:
        amount = EXACT.multiply(Decimal(number), UNITS[unit])
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from exc
    if not amount.is_finite() or amount != amount.to_integral_value() or amount < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole, non-negative number of wei")
    return Wei(int(amount))


def parse_bytes32(text: str) -> bytes:
    value = text.removeprefix("0x")
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not hex: {text!r}") from exc
    if len(raw) != 32:
        raise argparse.ArgumentTypeError(f"expected 32 bytes of hex, got {len(raw)}")
    return raw


def parse_address(text: str) -> str:
    if not is_address(text):
        raise argparse.ArgumentTypeError(f"not an address: {text!r}")
    return to_checksum_address(text)


def content_hash(path: Path) -> tuple[bytes, int]:
    """SHA-256 and size of a file: the content address the off-chain store files it under."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.digest(), size


# --- connection ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """One command's connection: signer, node, and where the contracts are."""

    transactor: Transactor
    rollup: RollupConfig


def default_key(chain_id: int) -> LocalAccount | None:
    """Dev account 0 on the devnet; nothing elsewhere, so a real network needs ``--key``."""
    if chain_id != DEVNET_CHAIN_ID:
        return None
    (account,) = dev_accounts(DEV_MNEMONIC, 1)
    return Account.from_key(account.private_key)


def open_session(args: argparse.Namespace) -> Session:
    artifacts = tuple(load_artifact(name) for name in L2_CONTRACTS)
    transactor = Transactor(connect(args.rpc), None, artifacts)
    if args.key:
        try:
            transactor.account = Account.from_key(args.key)
        except (ValueError, TypeError) as exc:
            raise UsageError("--key is not a private key (expected 32 bytes of hex)") from exc
    else:
        transactor.account = default_key(transactor.chain_id())
    return Session(transactor, fetch_rollup_config(transactor))


# --- output -------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Enum):
        return value.name.lower()
    return value


def _receipt_fields(receipt: Receipt) -> dict[str, Any]:
    return {"tx": receipt.tx_hash, "block": receipt.block_number, "gasUsed": receipt.gas_used}


def emit(args: argparse.Namespace, fields: dict[str, Any]) -> int:
    """Print ``fields`` as JSON (``--json``) or as ``key: value`` lines."""
    data = _jsonable(fields)
    if args.json:
        print(json.dumps(data, sort_keys=True))
        return 0
    for key, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            print(f"{key}:")
            for item in value:
                print("  " + "  ".join(f"{k}={v}" for k, v in item.items()))
        else:
            print(f"{key}: {value}")
    return 0


def _sent(args: argparse.Namespace, result: Transacted[Any] | Receipt, **fields: Any) -> int:
    receipt = result.receipt if isinstance(result, Transacted) else result
    return emit(args, {**fields, **_receipt_fields(receipt)})


# --- datanet ------------------------------------------------------------------------------


def _datanets(args: argparse.Namespace) -> DatanetRegistryClient:
    session = open_session(args)
    return DatanetRegistryClient.from_rollup(session.transactor, session.rollup)


def datanet_create(args: argparse.Namespace) -> int:
    result = _datanets(args).create_datanet(args.metadata_uri, args.stake)
    return _sent(args, result, datanetId=result.value)


def datanet_contribute(args: argparse.Namespace) -> int:
    if args.file is not None:
        digest, size = content_hash(args.file)
        uri = args.uri or f"sha256:{digest.hex()}"
    elif args.hash is not None and args.uri and args.size is not None:
        digest, size, uri = args.hash, args.size, args.uri
    else:
        raise UsageError("give --file, or all of --hash, --uri and --size")
    result = _datanets(args).contribute(args.datanet_id, digest, uri, size, args.stake)
    return _sent(args, result, contributionId=result.value, contentHash=digest, size=size)


def datanet_approve(args: argparse.Namespace) -> int:
    result = _datanets(args).approve(args.contribution_ids)
    return _sent(args, result, approved=args.contribution_ids, version=result.value)


def datanet_reject(args: argparse.Namespace) -> int:
    receipt = _datanets(args).reject(args.contribution_id, args.reason)
    return _sent(args, receipt, rejected=args.contribution_id)


def datanet_show(args: argparse.Namespace) -> int:
    client = _datanets(args)
    datanet = client.datanet(args.datanet_id)
    versions = [client.version(args.datanet_id, v) for v in range(1, datanet.latest_version + 1)]
    contributions = [client.contribution(i) for i in client.contribution_ids(args.datanet_id)]
    return emit(
        args,
        {**asdict(datanet), "versions": versions, "contributions": contributions},
    )


# --- model --------------------------------------------------------------------------------


def _models(args: argparse.Namespace) -> ModelRegistryClient:
    session = open_session(args)
    return ModelRegistryClient.from_rollup(session.transactor, session.rollup)


def model_register_base(args: argparse.Namespace) -> int:
    result = _models(args).register_base_model(args.name, args.weights_hash, args.license)
    return _sent(args, result, baseModelId=result.value)


def model_register(args: argparse.Namespace) -> int:
    if args.weights is not None:
        weights_hash, _ = content_hash(args.weights)
    elif args.weights_hash is not None:
        weights_hash = args.weights_hash
    else:
        raise UsageError("give --weights FILE or --weights-hash")
    result = _models(args).register_adapter(
        args.base_model,
        args.datanet,
        args.datanet_version,
        weights_hash,
        args.uri,
        args.price,
        args.manifest_hash,
    )
    return _sent(args, result, adapterId=result.value, weightsHash=weights_hash)


def model_list(args: argparse.Namespace) -> int:
    return emit(args, {"adapters": _models(args).adapters()})


# --- rewards ------------------------------------------------------------------------------


def _payments(args: argparse.Namespace) -> PaymentsClient:
    session = open_session(args)
    return PaymentsClient.from_rollup(session.transactor, session.rollup)


def rewards_balance(args: argparse.Namespace) -> int:
    payments = _payments(args)
    account = args.address or payments.transactor.sender
    return emit(
        args,
        {
            "account": account,
            "rewards": payments.rewards_of(account),
            "prepaid": payments.balance_of(account),
        },
    )


def rewards_claim(args: argparse.Namespace) -> int:
    payments = _payments(args)
    claimed = payments.claim()
    return _sent(args, claimed, account=payments.transactor.sender, claimed=claimed.value)


# --- registration -------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rpc", default=DEFAULT_RPC, help=f"L2 JSON-RPC URL ({DEFAULT_RPC})")
    parser.add_argument(
        "--key", default=None, help="hex private key to sign with (devnet: dev account 0)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _command(group: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text)
    _common(parser)
    parser.set_defaults(handler=handler)
    return parser


def register_datanet(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "datanet", help="create datanets, contribute data, curate (DatanetRegistry)"
    )
    group = parser.add_subparsers(dest="datanet_command", metavar="ACTION", required=True)

    create = _command(group, "create", datanet_create, "create a datanet you own")
    create.add_argument("metadata_uri", help="URI of the datanet's description")
    create.add_argument(
        "--stake", type=parse_wei, default=Wei(0), help="stake per contribution (wei, or 1ether)"
    )

    contribute = _command(group, "contribute", datanet_contribute, "submit data to a datanet")
    contribute.add_argument("datanet_id", type=int)
    contribute.add_argument("--file", type=Path, help="hash and size taken from this file")
    contribute.add_argument("--hash", type=parse_bytes32, help="content hash (32 bytes hex)")
    contribute.add_argument("--uri", help="where the content can be fetched")
    contribute.add_argument("--size", type=int, help="content size in bytes")
    contribute.add_argument(
        "--stake", type=parse_wei, default=None, help="stake to send (default: the datanet's)"
    )

    approve = _command(group, "approve", datanet_approve, "approve contributions (curator)")
    approve.add_argument("contribution_ids", type=int, nargs="+")

    reject = _command(group, "reject", datanet_reject, "reject a contribution (curator)")
    reject.add_argument("contribution_id", type=int)
    reject.add_argument("--reason", required=True)

    show = _command(group, "show", datanet_show, "a datanet, its versions and contributions")
    show.add_argument("datanet_id", type=int)


def register_model(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "model", help="register base models and LoRA adapters (ModelRegistry)"
    )
    group = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    base = _command(group, "register-base", model_register_base, "register a base model")
    base.add_argument("name")
    base.add_argument("--weights-hash", type=parse_bytes32, required=True)
    base.add_argument("--license", required=True, help="license URI")

    register = _command(group, "register", model_register, "register a LoRA adapter")
    register.add_argument("--base-model", type=int, required=True, help="base model id")
    register.add_argument("--datanet", type=int, required=True, help="datanet id trained on")
    register.add_argument("--datanet-version", type=int, required=True)
    register.add_argument("--weights", type=Path, help="adapter weights file (hashed here)")
    register.add_argument("--weights-hash", type=parse_bytes32, help="or its 32-byte hash")
    register.add_argument("--uri", required=True, help="where the weights can be fetched")
    register.add_argument("--price", type=parse_wei, required=True, help="price per call")
    register.add_argument(
        "--manifest-hash",
        type=parse_bytes32,
        default=NO_MANIFEST,
        help="hash of the contribution ids trained on",
    )

    _command(group, "list", model_list, "every registered adapter")


def register_rewards(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "rewards", help="attribution rewards and prepaid balance (InferencePayments)"
    )
    group = parser.add_subparsers(dest="rewards_command", metavar="ACTION", required=True)
    balance = _command(group, "balance", rewards_balance, "accrued rewards and prepaid balance")
    balance.add_argument(
        "address", nargs="?", type=parse_address, help="account (default: the signer)"
    )
    _command(group, "claim", rewards_claim, "withdraw the signer's accrued rewards")
