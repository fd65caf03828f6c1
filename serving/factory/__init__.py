"""ModelFactory: LoRA fine-tuning on Datanet data, from contribution bytes to a served adapter."""
