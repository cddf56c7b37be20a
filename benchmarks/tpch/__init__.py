"""The pieces of the TPC-H index-advisor benchmark (`benchmarks/advisor_tpch.py`)."""
