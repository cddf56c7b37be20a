"""Pydantic models that define what crosses the wire between agent and control plane.

Both sides import these; neither redefines them.
"""
