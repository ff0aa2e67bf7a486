"""Settlement models: runs and their records."""
