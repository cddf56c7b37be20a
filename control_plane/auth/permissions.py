"""The one table of who may do what: every endpoint and service asks it, the dashboard renders it.

Roles are names for sets of permissions. No other module compares role names: a check names the
permission it needs (`ensure_permission(context, "recommendation.approve")`), `GET /me` lists the
caller's permissions, and each recommendation's `allowed_actions` is this table intersected with the
moves its status admits (control_plane.changes.lifecycle). Changing what analysts may do is one edit
here, and the API, the services and the pages follow.
"""

from __future__ import annotations

from typing import Literal, get_args

from control_plane.api.errors import Forbidden
from control_plane.tenancy.context import TenantContext

Role = Literal["admin", "analyst", "viewer"]
ROLES: tuple[Role, ...] = get_args(Role)

Permission = Literal[
    "database.read",
    "database.create",
    "database.delete",
    "agent_token.rotate",
    "maintenance_window.manage",
    "recommendation.read",
    "recommendation.approve",
    "recommendation.reject",
    "recommendation.rollback",
    "changes.export",
    "analysis.run",
    "simulation.run",
    "audit.read",
    "user.manage",
    "webhook.manage",
    "llm_settings.manage",
]
PERMISSIONS: tuple[Permission, ...] = get_args(Permission)

# What everyone signed in may do: look.
_READ: frozenset[Permission] = frozenset({"database.read", "recommendation.read"})
# Analysts judge and investigate, but changing a database (apply, roll back) stays with admins.
_ANALYST: frozenset[Permission] = _READ | {
    "recommendation.reject",
    "changes.export",
    "analysis.run",
    "simulation.run",
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    "viewer": _READ,
    "analyst": _ANALYST,
    "admin": frozenset(PERMISSIONS),
}


def permissions_of(role: str | None) -> frozenset[Permission]:
    """A role's permissions; an unknown role (or none: agents, the system) has none."""
    for known in ROLES:
        if role == known:
            return ROLE_PERMISSIONS[known]
    return frozenset()


def can(context: TenantContext, permission: Permission) -> bool:
    return context.principal == "user" and permission in permissions_of(context.role)


def ensure_permission(context: TenantContext, permission: Permission) -> None:
    """Called after the object was found: another tenant's object must already have been a 404."""
    if not can(context, permission):
        holders = [role for role in ROLES if permission in ROLE_PERMISSIONS[role]]
        raise Forbidden(f"{permission} requires the {' or '.join(holders)} role")
