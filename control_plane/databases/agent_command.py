"""The one `docker run` line that starts an agent for a database: built here, shown by the pages.

The URL is the one agents use to reach the control plane: `OPTISCHEMA_PUBLIC_URL` when the operator
set it, else the URL the browser's request came to (right when both sit on the same network; a
container's own 127.0.0.1 is not the host's, hence the setting). The environment names are the
agent's (agent/cli/options.py, /work/shared/SPEC.md); the named volume keeps the agent's spool,
counters' baseline and pinned signing key across container restarts. Every value is single-quoted,
so a template's `<token>` replaced by a token gives exactly the line the server would build.
"""

from __future__ import annotations

from fastapi import Request

from control_plane.settings import Settings

AGENT_IMAGE = "optischema-agent"
# The operator replaces it with the agent's read-only role's URL (docs/agent-setup.md).
DATABASE_URL_PLACEHOLDER = "postgresql://optischema@DB_HOST:5432/DB_NAME"
TOKEN_PLACEHOLDER = "<token>"  # noqa: S105  # where the page puts the token it was shown


def public_url(settings: Settings, request: Request) -> str:
    """Where agents reach this control plane, without a trailing slash."""
    return (settings.public_url or str(request.base_url)).rstrip("/")


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def agent_command(control_plane_url: str, token: str) -> str:
    return " ".join(
        [
            "docker run -d --name optischema-agent --restart unless-stopped",
            f"-e OPTISCHEMA_API_URL={_quoted(control_plane_url)}",
            f"-e OPTISCHEMA_AGENT_TOKEN={_quoted(token)}",
            f"-e OPTISCHEMA_DATABASE_URL={_quoted(DATABASE_URL_PLACEHOLDER)}",
            "-v optischema-agent-spool:/var/lib/optischema-agent",
            f"{AGENT_IMAGE} run",
        ]
    )


def agent_command_template(control_plane_url: str) -> str:
    """The line with `<token>` where the token goes: for pages that no longer have the token."""
    return agent_command(control_plane_url, TOKEN_PLACEHOLDER)
