"""The L2 execution layer: py-evm on LevelDB, indexes, and the JSON-RPC server."""
