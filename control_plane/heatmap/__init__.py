"""The busiest statements against equal time buckets: where in the range each one spent its time."""
