"""The AI service: OpenLoRA multi-adapter inference and ModelFactory fine-tuning."""
