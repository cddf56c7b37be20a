"""The control plane's Ed25519 job-signing keys: generated or configured, stored encrypted, rotated, published."""
