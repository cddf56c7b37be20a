"""What stands between the internet and the domains: rate limits, health, metrics, body limits."""
