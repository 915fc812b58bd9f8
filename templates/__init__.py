"""The gallery's documents, shipped as package data of `layerloom.templates` (read with importlib.resources)."""
