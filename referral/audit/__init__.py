"""Audit trail: who looked at or changed what, without the personal data itself."""
