"""Airtime and data top-up, paid with the wallet through Selcom."""
