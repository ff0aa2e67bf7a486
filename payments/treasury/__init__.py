"""Treasury: static virtual bank accounts (Wema) and the deposits that arrive in them."""
