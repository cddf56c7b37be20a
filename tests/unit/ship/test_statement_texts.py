"""Which statement texts a snapshot leaves out: those the control plane acknowledged within the
resend period, and only from schema version 3."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from agent.ship.statement_texts import SentTexts
from shared.wire.snapshot import Snapshot
from tests.unit.ship.snapshots import T0, fingerprint, make_snapshot

RESEND_AFTER = timedelta(hours=1)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def texts_of(snapshot: Snapshot) -> dict[str, bool]:
    """Per fingerprint, whether the statement carries its text (and then its relations)."""
    carried = {s.fingerprint: s.query is not None for s in snapshot.statements}
    assert all(bool(s.relations) == (s.query is not None) for s in snapshot.statements)
    return carried


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def texts(clock: Clock) -> SentTexts:
    return SentTexts(RESEND_AFTER, clock=clock)


def test_a_first_snapshot_goes_whole(texts: SentTexts) -> None:
    snapshot = make_snapshot(3)
    assert texts.outgoing(snapshot) == snapshot


def test_texts_acknowledged_are_left_out_and_new_statements_keep_theirs(texts: SentTexts) -> None:
    texts.acknowledged(texts.outgoing(make_snapshot(2)))

    sent = texts.outgoing(make_snapshot(3))

    assert texts_of(sent) == {fingerprint(0): False, fingerprint(1): False, fingerprint(2): True}
    assert [s.calls for s in sent.statements] == [s.calls for s in make_snapshot(3).statements]


def test_texts_never_acknowledged_keep_going(texts: SentTexts) -> None:
    texts.outgoing(make_snapshot(2))  # sent, but refused or lost: never acknowledged

    assert texts_of(texts.outgoing(make_snapshot(2))) == {fingerprint(0): True, fingerprint(1): True}


def test_a_snapshot_sent_without_texts_acknowledges_none(texts: SentTexts, clock: Clock) -> None:
    texts.acknowledged(texts.outgoing(make_snapshot(1)))
    clock.now += timedelta(minutes=50)
    texts.acknowledged(texts.outgoing(make_snapshot(1)))  # text left out: not sent again
    clock.now += timedelta(minutes=20)  # 70 minutes after the text was last sent

    assert texts_of(texts.outgoing(make_snapshot(1))) == {fingerprint(0): True}


@pytest.mark.parametrize(
    ("elapsed", "left_out"),
    [
        (timedelta(0), True),
        (timedelta(minutes=59, seconds=59), True),
        (RESEND_AFTER, True),
        (RESEND_AFTER + timedelta(microseconds=1), False),
        (timedelta(days=2), False),
    ],
)
def test_every_text_goes_again_after_the_resend_period(
    texts: SentTexts, clock: Clock, elapsed: timedelta, left_out: bool
) -> None:
    texts.acknowledged(texts.outgoing(make_snapshot(1)))
    clock.now += elapsed

    assert texts_of(texts.outgoing(make_snapshot(1))) == {fingerprint(0): not left_out}


def test_a_snapshot_of_a_version_before_3_keeps_every_text(texts: SentTexts) -> None:
    texts.acknowledged(texts.outgoing(make_snapshot(2)))
    older = make_snapshot(2).model_copy(update={"schema_version": 2})

    assert texts.outgoing(older) == older


def test_what_is_left_out_is_only_the_text(texts: SentTexts) -> None:
    texts.acknowledged(texts.outgoing(make_snapshot(1)))
    snapshot = make_snapshot(1)

    sent = texts.outgoing(snapshot)

    whole, left = snapshot.model_dump(), sent.model_dump()
    assert "query" not in left["statements"][0] and left["statements"][0].pop("relations") == []
    for field in ("query", "relations"):
        whole["statements"][0].pop(field)
    assert left == whole
    assert '"query"' not in sent.model_dump_json()
