"""What can go wrong between the agent and the control plane, one type per thing the caller does about it.

The delivery loop decides from the type alone: wait and resend (ControlPlaneUnavailable,
UnexpectedResponse), stop shipping (AuthenticationRejected), keep and ask for an upgrade
(UnsupportedPayloadVersion), split (PayloadTooLarge) or set aside (PayloadRejected). Messages never
carry the agent token: they end up in logs, in `check` output and in bug reports.
"""

from __future__ import annotations


class ShipError(Exception):
    """Base of every transport error; `status` is the HTTP status when there was a response."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ControlPlaneUnavailable(ShipError):
    """Retries are exhausted or the deadline came first; whatever was being sent is still to send."""

    def __init__(self, message: str, *, status: int | None = None, cause: str | None = None) -> None:
        super().__init__(message, status=status)
        self.cause = cause


class AuthenticationRejected(ShipError):
    """401/403: resending cannot help until someone fixes the token."""

    def __init__(self, status: int, server_message: str | None = None) -> None:
        detail = f" (server said: {server_message})" if server_message else ""
        super().__init__(
            f"the control plane rejected the agent token with HTTP {status}{detail}: the token is wrong "
            "or has been revoked. Create a new agent token for this database in the dashboard (or with "
            "POST /api/v1/databases/{id}/agent-token) and set it with --agent-token or "
            "OPTISCHEMA_AGENT_TOKEN; the agent stops shipping until then and keeps its spool.",
            status=status,
        )
        self.server_message = server_message


class PayloadTooLarge(ShipError):
    """413: this body will never fit; the caller must send it in smaller pieces."""

    def __init__(self, server_message: str | None = None) -> None:
        detail = f": {server_message}" if server_message else ""
        super().__init__(f"the control plane refused the payload as too large (HTTP 413){detail}", status=413)
        self.server_message = server_message


class UnsupportedPayloadVersion(ShipError):
    """The control plane no longer (or not yet) accepts this payload version: upgrade, never drop."""

    def __init__(self, status: int, server_message: str | None = None) -> None:
        detail = f" (server said: {server_message})" if server_message else ""
        super().__init__(
            f"the control plane does not accept this agent's snapshot format{detail}: upgrade "
            "optischema-agent to the control plane's version. Snapshots stay in the spool and are sent "
            "after the upgrade.",
            status=status,
        )
        self.server_message = server_message


class PayloadRejected(ShipError):
    """The server judged this particular payload malformed; sending it again gives the same answer."""

    def __init__(self, status: int, server_message: str, code: str | None = None) -> None:
        super().__init__(
            f"the control plane rejected the payload (HTTP {status}): {server_message}", status=status
        )
        self.server_message = server_message
        self.code = code


class UnexpectedResponse(ShipError):
    """An answer that says nothing about the payload (a redirect, 404, a 2xx that is not an ack).

    Usually a wrong --api-url or something in between; the payload is kept, since dropping data for
    a configuration mistake would be worse than sending it late.
    """
