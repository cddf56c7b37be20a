"""The tenant a request or job acts for, and who acts.

Tenancy is enforced twice: repositories filter on `context.tenant_id` explicitly, and PostgreSQL
row-level security filters again on the `app.tenant_id` setting that `tenant_session` binds to the
same value. Either alone would stop a cross-tenant read; together a bug in one is not a leak.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

Principal = Literal["user", "agent", "system"]


@dataclass(frozen=True)
class TenantContext:
    tenant_id: uuid.UUID
    principal: Principal
    user_id: uuid.UUID | None = None
    database_id: uuid.UUID | None = None
    role: str | None = None
