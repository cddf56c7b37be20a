"""What the job queue knows about each kind of job: only what that kind's domain registers here.

The queue leases, signs, expires and records answers for any kind; what a kind carries, what a good
answer looks like, whether it waits for the maintenance window, and what leasing or settling it
means for the product belong to the domain that queues it (analysis proves ideas with simulations,
changes moves recommendations with apply and rollback). Each registers a `JobKindHandler` at
start-up (control_plane.job_kinds), so nothing under control_plane.jobs imports a domain.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import AgentJob
from control_plane.tenancy.context import TenantContext
from shared.wire.base import WireModel


class UnknownJobKind(ValueError):
    """A kind no domain registered: refused with its name, never queued, never settled blindly."""

    def __init__(self, kind: str, registered: Sequence[str]) -> None:
        known = ", ".join(sorted(registered)) or "none"
        super().__init__(f"no handler is registered for job kind {kind!r} (registered: {known})")
        self.kind = kind


class JobKindHandler(ABC):
    """One kind of job, as the domain that queues it defines it."""

    kind: ClassVar[str]
    payload_model: ClassVar[type[WireModel]]
    result_model: ClassVar[type[WireModel]]
    # Changes to the monitored database wait for its maintenance window; simulations never do.
    held_by_maintenance_window: ClassVar[bool] = False

    def admit(self, payload: WireModel) -> None:
        """Raises when a payload that parses must still never be queued (the agent would refuse it)."""
        return None

    async def on_leased(
        self, session: AsyncSession, context: TenantContext, jobs: Sequence[AgentJob]
    ) -> None:
        """`jobs` of this kind were just handed to the agent, in the transaction that leased them."""
        return None

    @abstractmethod
    async def on_settled(
        self, session: AsyncSession, context: TenantContext, job: AgentJob, result: WireModel | None
    ) -> None:
        """`job` is finished (succeeded, failed or expired), in the transaction that recorded it;
        `result` is its answer validated against `result_model` when it succeeded, else None."""


# Whether a database's maintenance window is open at a moment: the changes domain owns windows.
WindowGate = Callable[[AsyncSession, TenantContext, uuid.UUID, datetime], Awaitable[bool]]


async def always_open(
    session: AsyncSession, context: TenantContext, database_id: uuid.UUID, now: datetime
) -> bool:
    return True


class JobKinds:
    """The registry of job kinds: one handler per kind, registered once at start-up."""

    def __init__(self) -> None:
        self._handlers: dict[str, JobKindHandler] = {}
        self.window_open: WindowGate = always_open

    def register_window(self, gate: WindowGate) -> None:
        """The rule that holds back the `held_by_maintenance_window` kinds while it says closed."""
        self.window_open = gate

    def register(self, handler: JobKindHandler) -> None:
        """Registering the same handler class again is a no-op (the API and the workers of one
        process both assemble it); a second, different handler for a kind is a programming error."""
        known = self._handlers.get(handler.kind)
        if known is not None and type(known) is not type(handler):
            raise ValueError(
                f"job kind {handler.kind!r} already has {type(known).__name__}, not {type(handler).__name__}"
            )
        if known is None:
            self._handlers[handler.kind] = handler

    def handler_for(self, kind: str) -> JobKindHandler:
        handler = self._handlers.get(kind)
        if handler is None:
            raise UnknownJobKind(kind, list(self._handlers))
        return handler

    def kinds(self) -> tuple[str, ...]:
        return tuple(self._handlers)

    def held_by_maintenance_window(self) -> tuple[str, ...]:
        return tuple(kind for kind, handler in self._handlers.items() if handler.held_by_maintenance_window)


# The process's registry, filled by control_plane.job_kinds.register_job_kinds at start-up.
job_kinds = JobKinds()
