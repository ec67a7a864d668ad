"""Adapters to outside pipelines: spaCy part-of-speech tags and dependency trees (spaCy loads on first use)."""
