"""betting models: filled in by the betting capability."""
