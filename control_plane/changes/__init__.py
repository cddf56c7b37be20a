"""Approve and apply: a person decides, the agent applies, the product measures what it did."""
