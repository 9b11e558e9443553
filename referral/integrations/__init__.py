"""Integrations: outgoing webhooks to the tools a business already runs,
signed per the Standard Webhooks specification and delivered by the job worker."""
