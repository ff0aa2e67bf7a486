"""Payments models, one module per rail: top-up (Selcom), treasury (Wema), payouts (Stripe)."""
