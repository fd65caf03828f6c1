"""Derivation: rebuilding the L2 chain from L1 data alone, one stage per module (as op-node).

Data flows one way, each stage pulling from the one before::

    traversal (L1 blocks, reorg checks) -> retrieval (batcher calldata) -> channels (BatchReader)
    -> batch_queue (validity rules, sequencing window) -> attributes (deposits + batch txs)
    -> engine (execute on node.chain, consolidate with unsafe blocks) -> safe head

``pipeline`` wires the stages, ``driver`` runs it against an L1 node, ``unsafe_sync`` follows the
sequencer's unsafe blocks, ``service``/``cli`` make it ``openledger node``. The rules and where
they differ from OP's are in docs/rollup.md, "Derivation".
"""
