"""reconciler: assistants as code for the OpenAI Assistants API (v1)."""

__version__ = "0.1.0"
