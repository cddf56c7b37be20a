"""The agent: runs in the customer's network, reads PostgreSQL statistics, simulates and applies changes.

Split by what it reads and what it does with it:
  db/         polite sessions to the monitored database (marker comment, timeouts, connection cap)
  collect/    one module per catalog area: statements, schema, server, plans, prerequisites
  diff/       pure: counter deltas between two polls, reset detection
  anonymize/  pure: query text, plans and definitions with every literal removed
  state/      what must survive a restart (previous counters), kept in the spool directory
  snapshot/   one collection cycle assembled into the shared wire model
  cli/        the optischema-agent command
"""
