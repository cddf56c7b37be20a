from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from control_plane.auth.permissions import Permission, Role


class Me(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    tenant_id: uuid.UUID
    permissions: list[Permission] = Field(description="What this user may do: the server's permission table")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=12, max_length=1024)
    role: Role


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    disabled: bool


class UserListed(UserOut):
    created_at: datetime
    last_login_at: datetime | None = Field(description="Last successful sign-in; null when never")


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=12, max_length=1024)
