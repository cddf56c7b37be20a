"""One module per catalog area of the monitored database."""
