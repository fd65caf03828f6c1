"""Typed Python bindings of the Payable-AI contracts, loaded from the committed artifacts.

Modules, one concern each:

- :mod:`~openledger.contracts.artifacts`: reading ``contracts/out/<Name>.json``;
- :mod:`~openledger.contracts.transactor`: the web3.py boundary (sign, send, wait, errors);
- :mod:`~openledger.contracts.revert`: revert data -> custom error name and arguments;
- :mod:`~openledger.contracts.datanets`, :mod:`~openledger.contracts.models`,
  :mod:`~openledger.contracts.payments`: one typed client per contract;
- :mod:`~openledger.contracts.rollup`: finding the contracts through ``openledger_rollupConfig``;
- :mod:`~openledger.contracts.deploy`: deploying them (the devnet does it at first start);
- :mod:`~openledger.contracts.cli`: the ``openledger datanet|model|rewards`` commands.

``serving`` and ``attribution`` use these over JSON-RPC only, never by importing ``node``.
"""
