"""Reading the workload back: top queries, one query's time series and its latest plan."""
