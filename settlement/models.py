"""settlement models: filled in by the settlement capability."""
