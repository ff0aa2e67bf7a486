"""Writes of settlement, one module per concern (see each module's docstring)."""
