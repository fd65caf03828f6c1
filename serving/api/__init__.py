"""The OpenAI-compatible HTTP face of the AI service (`serving.api.app.build_app`)."""
