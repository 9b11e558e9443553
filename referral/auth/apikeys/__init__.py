"""API keys: how integrations authenticate to the REST API."""
