"""Sessions to the monitored database, opened the way a polite guest would."""
