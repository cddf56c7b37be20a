"""Background work run beside the API (or alone with OPTISCHEMA_WORKERS=only)."""
