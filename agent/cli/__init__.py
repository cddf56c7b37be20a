"""The optischema-agent command."""
