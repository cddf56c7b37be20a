"""Pure functions that strip literals, credentials and row data from everything the agent sends."""
