"""Who a transaction works for: the tenant context that scopes every query, in SQL and in PostgreSQL."""

from control_plane.tenancy.context import Principal, TenantContext

__all__ = ["Principal", "TenantContext"]
