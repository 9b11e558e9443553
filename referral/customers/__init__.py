"""Customers: each business's own customers and their past jobs (personal data)."""
