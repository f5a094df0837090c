"""Cloud adapters (installed as ``cloudrun.providers``). Each imports its SDK lazily."""
