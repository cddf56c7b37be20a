"""How both deployables log: one format on standard error, one level knob, and quiet chatty libraries.

`OPTISCHEMA_LOG_LEVEL` (DEBUG, INFO, WARNING, ERROR; default INFO) sets the level of our own loggers.
Some libraries put what must never reach a log into their DEBUG and INFO lines: SQLAlchemy's engine
logs every statement's bound parameters (password hashes, token digests, tenant data) as soon as its
logger is at INFO, and httpcore/hpack can log raw request headers (bearer tokens). Whatever level
is asked for, those stay at WARNING, so turning on DEBUG to chase a problem never leaks a secret;
tests/e2e/test_logs_hold_no_secret.py scans a whole DEBUG run for every credential it used.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Final, Literal

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LOG_LEVELS: Final[tuple[LogLevel, ...]] = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LOG_LEVEL: Final[LogLevel] = "INFO"
LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Loggers that carry statement parameters or raw headers below WARNING.
_NEVER_BELOW_WARNING: Final = ("sqlalchemy", "asyncpg", "httpcore", "hpack", "urllib3", "requests")


def configure_logging(level: str = DEFAULT_LOG_LEVEL, *, floors: Mapping[str, int] | None = None) -> None:
    """Root logging on standard error at `level`; the secret-bearing libraries at WARNING or above,
    and each logger in `floors` at least at its level (a deployable's own noisy neighbours)."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}; one of {', '.join(LOG_LEVELS)}")
    logging.basicConfig(stream=sys.stderr, level=numeric, format=LOG_FORMAT)
    logging.getLogger().setLevel(numeric)
    for name in _NEVER_BELOW_WARNING:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    for name, floor in (floors or {}).items():
        logging.getLogger(name).setLevel(max(numeric, floor))
