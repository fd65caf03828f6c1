"""Ethereum JSON-RPC over HTTP and WebSocket on one port."""
