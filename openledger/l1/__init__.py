"""The L1 side of the rollup as the kernel sees it: a JSON-RPC client, a transaction manager
that keeps batcher and proposer transactions moving, the L1 contracts' deployment, and the
``rollup.json`` every rollup node reads (docs/rollup.md, "rollup.json")."""
