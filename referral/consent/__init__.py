"""Consent: the customer's provable permission before any personal data moves."""
