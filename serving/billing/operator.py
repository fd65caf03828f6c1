"""Making sure this service's account may settle: a registered, active, staked operator.

`settleBatch` reverts for anyone else, so the service checks this once at start instead of
discovering it with every batch. Registering stakes OPEN that governance can slash (the user's
protection against an operator inventing inferences), hence an explicit, logged step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from openledger.contracts.payments import PaymentsClient
from openledger.types import Wei
from serving.exceptions import ServingError

log = logging.getLogger(__name__)


class OperatorUnavailable(ServingError):
    """The account is exiting as an operator: it can never settle again."""


@dataclass(frozen=True)
class OperatorStatus:
    address: str
    stake: Wei
    registered_now: bool
    """This call registered the account (or added stake to reach the minimum)."""


def ensure_operator(payments: PaymentsClient, stake: Wei | None = None) -> OperatorStatus:
    """Register the sender as an operator with `stake` (default and at least the contract's
    minimum), or top an existing registration up to the minimum; raise if it is exiting."""
    transactor = payments.transactor
    functions = payments.contract.functions
    operator = transactor.sender
    minimum = Wei(
        int(transactor.call("InferencePayments.minOperatorStake", functions.minOperatorStake()))
    )
    info = transactor.call("InferencePayments.operatorInfo", functions.operatorInfo(operator))
    if info.exiting:
        raise OperatorUnavailable(f"operator {operator} has requested its exit and cannot settle")
    if not info.registered:
        amount = Wei(max(stake or 0, minimum))
        payments.register_operator(amount)
        log.info("registered operator %s with stake %d wei", operator, amount)
        return OperatorStatus(operator, amount, True)
    if info.stake < minimum:
        top_up = Wei(minimum - int(info.stake))
        transactor.transact("InferencePayments.addStake", functions.addStake(), top_up)
        log.info("operator %s topped its stake up by %d wei to %d", operator, top_up, minimum)
        return OperatorStatus(operator, minimum, True)
    return OperatorStatus(operator, Wei(int(info.stake)), False)
