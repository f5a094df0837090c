"""cloudrun: deploy an open LLM where it is cheapest after your credits, and stop the meter when idle."""

__version__ = "0.1.0"
