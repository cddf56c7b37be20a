"""Tenants: creation through the SECURITY DEFINER function, and signup of a tenant with its first admin."""

from control_plane.tenants.repository import ProvisionedTenant, TenantRepository, provision_tenant

__all__ = ["ProvisionedTenant", "TenantRepository", "provision_tenant"]
