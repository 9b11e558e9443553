"""Referrals: a customer sent to a partner, with consent, and what became of it."""
