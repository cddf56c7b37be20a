"""The engine takes the same libpq-style URL as the migrations: its parameters reach asyncpg translated."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from control_plane.db.engine import (
    async_connect_args,
    async_database_url,
    engine_from_url,
    sync_database_url,
)

URL = "postgresql://app:s%40cret@db.internal:6432/meta"


def test_libpq_parameters_are_translated_for_asyncpg() -> None:
    url = f"{URL}?sslmode=verify-full&sslrootcert=/etc/ca.pem&connect_timeout=5&application_name=cp"
    assert (
        async_database_url(url) == "postgresql+asyncpg://app:s%40cret@db.internal:6432/meta?ssl=verify-full"
    )
    assert async_connect_args(url) == {
        "timeout": 5.0,
        "dsn": "postgresql://?application_name=cp&sslrootcert=%2Fetc%2Fca.pem",
    }
    assert async_connect_args(f"{URL}?connect_timeout=0") == {}  # libpq: wait forever, asyncpg: its default
    assert (
        sync_database_url(f"{URL}?connect_timeout=5") == f"postgresql+psycopg://{URL[13:]}?connect_timeout=5"
    )


@pytest.mark.parametrize(
    "url",
    ["mysql://app@db/meta", f"{URL}?keepalives=1", f"{URL}?gssencmode=disable"],
)
def test_what_asyncpg_cannot_honour_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"metadata database URL"):
        async_database_url(url)


@pytest.mark.both_servers  # Debian's PostgreSQL and PostgreSQL 18 (tests/conftest.py)
@pytest.mark.asyncio
async def test_a_real_connection_with_libpq_parameters(metadata_url: str) -> None:
    engine = engine_from_url(
        f"{metadata_url}?connect_timeout=5&sslmode=disable&application_name=optischema-test"
    )
    try:
        async with engine.connect() as connection:
            name = await connection.scalar(text("SELECT current_setting('application_name')"))
    finally:
        await engine.dispose()
    assert name == "optischema-test"
