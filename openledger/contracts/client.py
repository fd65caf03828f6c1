"""What every typed contract client shares: its artifact, its address, and the transactor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Self, TypeVar

from web3.contract.contract import ContractFunction

from openledger.contracts.artifacts import ARTIFACTS_DIR, load_artifact
from openledger.contracts.rollup import RollupConfig
from openledger.contracts.transactor import NO_VALUE, Receipt, Transactor
from openledger.types import Wei

T = TypeVar("T")


@dataclass(frozen=True)
class Transacted(Generic[T]):
    """A mined transaction's result value (e.g. the new id, read from its event) and receipt."""

    value: T
    receipt: Receipt


class ContractClient:
    """Base of the typed clients; subclasses set ``NAME`` to their artifact's name."""

    NAME: ClassVar[str]

    def __init__(
        self, transactor: Transactor, address: str, artifacts_dir: Path = ARTIFACTS_DIR
    ) -> None:
        self.transactor = transactor
        self.contract = transactor.contract(load_artifact(self.NAME, artifacts_dir), address)

    @classmethod
    def from_rollup(
        cls, transactor: Transactor, rollup: RollupConfig, artifacts_dir: Path = ARTIFACTS_DIR
    ) -> Self:
        """The client for the address the node reports in ``openledger_rollupConfig``."""
        return cls(transactor, rollup.address(cls.NAME), artifacts_dir)

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def _send(self, function: ContractFunction, value: Wei = NO_VALUE) -> Receipt:
        return self.transactor.transact(f"{self.NAME}.{function.fn_name}", function, value)

    def _view(self, function: ContractFunction) -> Any:
        return self.transactor.call(f"{self.NAME}.{function.fn_name}", function)
