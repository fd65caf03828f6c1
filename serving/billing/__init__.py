"""Billing: API keys that are signed spending sessions, and the operator's `Cashier`.

- :mod:`~serving.billing.apikey`: the `ol1_` key format, signing and checking sessions
  (`python -m serving.billing.keygen` makes one);
- :mod:`~serving.billing.cashier`: `OperatorCashier`, authorize / record / cancel / lookup;
- :mod:`~serving.billing.pending`, :mod:`~serving.billing.reads`: promised amounts and cached
  on-chain reads, the two halves of "can this user pay";
- :mod:`~serving.billing.ledger`: the durable record of every paid response;
- :mod:`~serving.billing.settler`: `settleBatch` in a thread, splitting reverted batches;
- :mod:`~serving.billing.attribution`: contributions credited per answer (the port Proof of
  Attribution plugs into);
- :mod:`~serving.billing.attributor`: scoring recorded answers in a thread, before settlement;
- :mod:`~serving.billing.operator`: registering the operator with stake.
"""

from serving.api.ports import AnsweredChoice
from serving.billing.apikey import MalformedKey, decode_api_key, encode_api_key, make_api_key
from serving.billing.attribution import AttributionSource
from serving.billing.cashier import OperatorCashier
from serving.billing.ledger import ResponseRecord, Status
from serving.billing.operator import OperatorStatus, OperatorUnavailable, ensure_operator
from serving.billing.settler import SettlementPolicy

__all__ = [
    "AnsweredChoice",
    "AttributionSource",
    "MalformedKey",
    "OperatorCashier",
    "OperatorStatus",
    "OperatorUnavailable",
    "ResponseRecord",
    "SettlementPolicy",
    "Status",
    "decode_api_key",
    "encode_api_key",
    "ensure_operator",
    "make_api_key",
]
