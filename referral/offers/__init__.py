"""Offers: a business's own back-end offers and those it publishes to its partners' customers."""
