"""Errors of the AI service.

Exception tree::

    OpenLedgerError
    └── ServingError
        └── AdapterError                 (serving.lora.slots: malformed or unfit adapter)
            ├── UnknownAdapter           (serving.lora.manager)
            ├── AdapterHashMismatch
            ├── AdapterNotReady
            └── AdapterSlotsExhausted
"""

from openledger.errors import OpenLedgerError


class ServingError(OpenLedgerError):
    """Base class of the AI service's deliberate errors."""
