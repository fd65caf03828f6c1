"""The root of every exception the project raises on purpose.

Each package adds its own ``exceptions.py`` under this root, so a caller can catch everything
that is "ours" (and therefore carries a message meant for a user) in one place.
"""


class OpenLedgerError(Exception):
    """Base class of all deliberate OpenLedger errors."""
