"""Wiring shared by every domain's endpoints: the app's services and the request dependencies."""
