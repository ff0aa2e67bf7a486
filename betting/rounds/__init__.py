"""Up/Down daily pools on the NYSE clock (RULES.md "Up/Down daily rounds")."""
