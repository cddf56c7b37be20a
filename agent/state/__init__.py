"""What must survive an agent restart, kept in the spool directory."""
