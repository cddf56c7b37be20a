"""Which errors mean "the metadata database is away" (503, retry) and which stay what they are."""

from __future__ import annotations

import pickle

from fastapi import HTTPException
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from control_plane.db.availability import MetadataUnavailable, as_unavailable, unavailable_reason


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"server said {sqlstate} to user secret_user at db.internal")
        self.sqlstate = sqlstate


def _wrapped(sqlstate: str) -> DBAPIError:
    return DBAPIError("SELECT 1", None, _DriverError(sqlstate))


def test_refused_connects_pool_timeouts_and_shutdowns_are_unavailable() -> None:
    assert unavailable_reason(ConnectionRefusedError(111, "Connect call failed")) == "ConnectionRefusedError"
    assert unavailable_reason(TimeoutError()) == "TimeoutError"
    assert unavailable_reason(PoolTimeout("QueuePool limit reached")) == "TimeoutError"
    for code in ("57P01", "57P03", "08003", "08006", "53300"):
        assert unavailable_reason(_wrapped(code)) == "_DriverError", code


def test_other_database_errors_and_http_errors_are_not() -> None:
    assert unavailable_reason(_wrapped("23505")) is None  # a unique violation is the caller's problem
    assert unavailable_reason(ValueError("nope")) is None
    try:
        try:
            raise ConnectionRefusedError(111, "a webhook URL refused")
        except OSError:
            raise HTTPException(400, "the webhook URL is unreachable") from None
    except HTTPException as http_error:
        assert unavailable_reason(http_error) is None


def test_the_translation_carries_no_driver_message_and_pickles() -> None:
    unavailable = as_unavailable(_wrapped("57P01"))
    assert isinstance(unavailable, MetadataUnavailable)
    assert "secret_user" not in str(unavailable) and "db.internal" not in str(unavailable)
    assert pickle.loads(pickle.dumps(unavailable)).reason == unavailable.reason
    assert isinstance(unavailable, OSError)  # code that caught an unreachable server as OSError still does
