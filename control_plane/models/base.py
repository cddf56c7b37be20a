"""Declarative base with stable constraint names (Alembic migrations refer to them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKeyConstraint, MetaData, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utc_now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def tenant_id_column() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True)


def id_column() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


def monitored_database_fk() -> ForeignKeyConstraint:
    """Rows that belong to a monitored database go with it: deleting the database removes its data."""
    return ForeignKeyConstraint(
        ["tenant_id", "database_id"],
        ["monitored_databases.tenant_id", "monitored_databases.id"],
        ondelete="CASCADE",
    )


# A statement's fingerprint: 16 lowercase hex digits (shared.wire.base.FINGERPRINT_PATTERN), whose
# order is their bytes' order. Collated "C", PostgreSQL compares two with memcmp: under the
# database's default collation (C.UTF-8 here, en_US.UTF-8 on most managed servers) each comparison
# went through the C library's strcoll, and sorts could not use abbreviated keys. The keys and
# joins of the statement series compare fingerprints ~20 times per stored row (see migration 0019).
FINGERPRINT = Text(collation="C")
