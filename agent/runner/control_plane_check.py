"""`check`'s control-plane line: reachable, and accepting this agent's token."""

from __future__ import annotations

import threading
from dataclasses import replace

from agent.config import AgentConfig
from agent.runner.assembly import ConfigurationError, build_client
from agent.runner.signing_keys import SIGNING_KEYS_PATH
from agent.ship.errors import AuthenticationRejected, ShipError


def check_control_plane(config: AgentConfig) -> tuple[bool, str]:
    """(ok, the line to print) for the configured control plane."""
    # One quick attempt: `check` answers now, it does not ride out an outage.
    quick = replace(config, run=replace(config.run, retry_max_attempts=1, http_timeout_s=10.0))
    try:
        with build_client(quick, threading.Event()) as client:
            client.get_json(SIGNING_KEYS_PATH)
    except ConfigurationError as error:
        return False, f"fail  control plane: {error}"
    except AuthenticationRejected as error:
        return False, f"fail  control plane: {error}"
    except ShipError as error:
        return False, f"fail  control plane: not reachable at {config.api_url}: {error}"
    return True, f"ok    control plane: {config.api_url} accepts this agent's token"
