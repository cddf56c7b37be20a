"""The multi-tenant control plane: API, dashboard, analysis and the approve-and-apply workflow."""
