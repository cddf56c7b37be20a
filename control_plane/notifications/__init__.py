"""Webhooks per tenant: what happened to recommendations, announced signed (generic) or to Slack."""
