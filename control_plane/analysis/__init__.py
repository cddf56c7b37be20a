"""Analysis in the control plane: rules, LLM providers, and the simulations that prove suggestions."""
