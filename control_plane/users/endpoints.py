from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Response, status

from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.auth.permissions import ensure_permission, permissions_of
from control_plane.models import User
from control_plane.users.schemas import Me, PasswordChange, RoleChange, UserCreate, UserListed, UserOut
from control_plane.users.service import UserService

router = APIRouter(tags=["users"])


def _out(user: User) -> UserOut:
    return UserOut(id=user.id, email=user.email, role=user.role, disabled=user.disabled_at is not None)


@router.get("/me", response_model=Me)
async def me(caller: CallerSession = Depends(user_caller, scope="function")) -> Me:
    user = await UserService(caller.session, caller.context).me()
    return Me(
        id=user.id,
        email=user.email,
        role=user.role,
        tenant_id=user.tenant_id,
        permissions=sorted(permissions_of(user.role)),
    )


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange, caller: CallerSession = Depends(user_caller, scope="function")
) -> Response:
    await UserService(caller.session, caller.context).change_password(
        body.current_password, body.new_password
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users", response_model=list[UserListed])
async def list_users(caller: CallerSession = Depends(user_caller, scope="function")) -> list[UserListed]:
    """The tenant's users for the settings page (`user.manage`: admins)."""
    return [
        UserListed(**_out(user).model_dump(), created_at=user.created_at, last_login_at=last_login_at)
        for user, last_login_at in await UserService(caller.session, caller.context).listing()
    ]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(
    body: UserCreate, caller: CallerSession = Depends(user_caller, scope="function")
) -> UserOut:
    ensure_permission(caller.context, "user.manage")
    return _out(
        await UserService(caller.session, caller.context).create(body.email, body.password, body.role)
    )


@router.patch("/users/{user_id}", response_model=UserOut)
async def change_role(
    user_id: uuid.UUID, body: RoleChange, caller: CallerSession = Depends(user_caller, scope="function")
) -> UserOut:
    service = UserService(caller.session, caller.context)
    await service.get(user_id)  # another tenant's user is a 404 before any role check
    ensure_permission(caller.context, "user.manage")
    return _out(await service.change_role(user_id, body.role))


@router.post("/users/{user_id}/disable", status_code=status.HTTP_204_NO_CONTENT)
async def disable_user(
    user_id: uuid.UUID, caller: CallerSession = Depends(user_caller, scope="function")
) -> Response:
    service = UserService(caller.session, caller.context)
    await service.get(user_id)
    ensure_permission(caller.context, "user.manage")
    await service.disable(user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
