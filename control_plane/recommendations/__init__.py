"""Recommendations: what the agent's advisor (and later rules and the LLM) propose, and their status."""
