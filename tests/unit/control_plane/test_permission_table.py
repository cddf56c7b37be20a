"""The permission table is the one place that knows what a role may do."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

from control_plane.auth.permissions import PERMISSIONS, ROLE_PERMISSIONS, ROLES, can, permissions_of
from control_plane.tenancy.context import TenantContext

CONTROL_PLANE = Path(__file__).resolve().parents[3] / "control_plane"
# Where a role name may appear as a literal: the table itself, the users' CHECK constraint, and
# create-tenant, which names the first user's role (not a right).
ALLOWED = {
    CONTROL_PLANE / "auth" / "permissions.py",
    CONTROL_PLANE / "models" / "user.py",
    CONTROL_PLANE / "tenants" / "repository.py",
}


def test_admins_hold_every_permission_and_viewers_only_read() -> None:
    assert ROLE_PERMISSIONS["admin"] == frozenset(PERMISSIONS)
    assert all(permission.endswith(".read") for permission in ROLE_PERMISSIONS["viewer"])
    assert ROLE_PERMISSIONS["viewer"] < ROLE_PERMISSIONS["analyst"] < ROLE_PERMISSIONS["admin"]


def test_no_role_no_permission_and_agents_hold_none() -> None:
    tenant = uuid.uuid4()
    agent = TenantContext(tenant_id=tenant, principal="agent", role="admin")

    assert permissions_of(None) == permissions_of("root") == frozenset()
    assert not can(agent, "recommendation.approve")
    assert can(TenantContext(tenant_id=tenant, principal="user", role="admin"), "recommendation.approve")


def test_no_other_module_compares_role_names() -> None:
    """A role name in a string literal elsewhere, or a comparison with `.role`, is a rule that
    escaped the table."""
    offenders = []
    for path in CONTROL_PLANE.rglob("*.py"):
        if path in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in ROLES:
                offenders.append(f"{path.relative_to(CONTROL_PLANE)}:{node.lineno}")
            if isinstance(node, ast.Compare) and any(
                isinstance(side, ast.Attribute) and side.attr == "role"
                for side in [node.left, *node.comparators]
            ):
                offenders.append(f"{path.relative_to(CONTROL_PLANE)}:{node.lineno}")
    assert offenders == []
