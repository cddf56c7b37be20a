"""The audit trail: who did what to which object, per tenant, append-only."""

from control_plane.audit.repository import AuditRepository

__all__ = ["AuditRepository"]
