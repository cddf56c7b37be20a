"""Agent check-ins and snapshot ingestion."""
