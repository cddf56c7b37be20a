"""Authentication: passwords, access and refresh tokens, and who the caller is."""
