"""The sequencer: mempool, block building, batch submission and output-root proposals."""
