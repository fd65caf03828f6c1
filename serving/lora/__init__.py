"""Multi-adapter LoRA in three layers, as vLLM splits it.

- `punica`: the one kernel wrapper that knows which token uses which adapter slot.
- `layers`: wrappers around the base model's projections that hold the stacked slot buffers.
- `slots`: loading PEFT-format adapters into slots and clearing them.
"""
