"""HTTP errors with one shape: {"detail": "..."}; another tenant's object is always a 404."""

from __future__ import annotations

from fastapi import HTTPException, status


class NotFound(HTTPException):
    def __init__(self, what: str = "not found") -> None:
        super().__init__(status.HTTP_404_NOT_FOUND, detail=what)


class Forbidden(HTTPException):
    def __init__(self, detail: str = "your role does not allow this") -> None:
        super().__init__(status.HTTP_403_FORBIDDEN, detail=detail)


class Unauthorized(HTTPException):
    def __init__(self, detail: str = "missing or invalid credentials") -> None:
        super().__init__(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


class Conflict(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status.HTTP_409_CONFLICT, detail=detail)


class BadRequest(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status.HTTP_400_BAD_REQUEST, detail=detail)
