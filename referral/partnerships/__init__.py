"""Partnerships: discovery, proposals with versioned commission terms, and their lifecycle."""
