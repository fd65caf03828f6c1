"""Shared kernel of the OpenLedger node: config, storage, types and the command line."""

__version__ = "0.1.0"
