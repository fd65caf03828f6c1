"""The OpenLoRA generation engine: continuous batching over one base model and many adapters."""
