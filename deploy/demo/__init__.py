"""`make demo`: the product on a throwaway cluster with a demo shop schema and workload."""
