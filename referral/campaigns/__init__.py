"""Campaigns: a business emails a segment of its customers (outreach layer)."""
