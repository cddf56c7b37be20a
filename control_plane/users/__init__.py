"""Users of a tenant: storage here, sign-in lookups through the SECURITY DEFINER functions."""

from control_plane.users.repository import UserRepository, normalize_email

__all__ = ["UserRepository", "normalize_email"]
