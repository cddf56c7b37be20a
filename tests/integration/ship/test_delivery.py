"""deliver_spooled against a real HTTP server: the spool empties only on acknowledgement."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from agent.ship.backoff import RetryPolicy
from agent.ship.delivery import deliver_spooled
from agent.ship.split import part_id
from agent.ship.spool import Spool
from agent.ship.transport import ControlPlaneClient
from shared.wire.snapshot import Snapshot
from tests.integration.ship.conftest import SNAPSHOTS_PATH, FakeClock, Reply, ScriptedServer
from tests.unit.ship.snapshots import T0, make_snapshot

MakeClient = Callable[..., ControlPlaneClient]
UNSUPPORTED = {
    "detail": {"message": "unsupported snapshot schema_version 1", "code": "unsupported_schema_version"}
}


def roomy_disk(path: Path) -> tuple[int, int, int]:
    # The real disk may be nearly full on a CI machine; that must not evict the snapshots under test.
    return 10**12, 0, 10**12


def new_spool(directory: Path) -> Spool:
    return Spool(directory, clock=lambda: T0 + timedelta(hours=1), disk_usage=roomy_disk)


def test_413_splits_and_both_parts_arrive_with_deterministic_ids(
    control_plane: ScriptedServer, make_client: MakeClient, tmp_path: Path
) -> None:
    spool = new_spool(tmp_path)
    snapshot = make_snapshot(4, plans_for=(0, 3))
    spool.put(snapshot)
    control_plane.queue(Reply(413))
    outcome = deliver_spooled(spool, make_client(control_plane.url))
    original = snapshot.snapshot_id
    first, second = part_id(original, 1, 2), part_id(original, 2, 2)
    assert sorted(control_plane.snapshot_ids()[1:]) == sorted([str(first), str(second)])
    arrived = {
        r.json()["snapshot_id"]: Snapshot.model_validate_json(r.body) for r in control_plane.requests[1:]
    }
    assert [s.fingerprint for s in arrived[str(first)].statements] == [
        s.fingerprint for s in snapshot.statements[:2]
    ]
    assert [s.fingerprint for s in arrived[str(second)].statements] == [
        s.fingerprint for s in snapshot.statements[2:]
    ]
    assert (outcome.delivered, outcome.split, outcome.remaining, outcome.stopped_reason) == (2, 1, 0, None)
    assert spool.entries() == []
    assert spool.dropped_unreported() == 0


def test_413_until_one_statement_is_left_quarantines_it_and_counts_it(
    control_plane: ScriptedServer, make_client: MakeClient, tmp_path: Path
) -> None:
    spool = new_spool(tmp_path)
    spool.put(make_snapshot(2))
    control_plane.queue(Reply(413), Reply(413))  # the whole, then the first part; the second fits
    outcome = deliver_spooled(spool, make_client(control_plane.url))
    assert (outcome.delivered, outcome.dropped, outcome.remaining) == (1, 1, 0)
    assert len(list((tmp_path / "quarantine").iterdir())) == 1
    assert spool.dropped_unreported() == 1


def test_422_unsupported_schema_version_keeps_the_snapshot_and_requires_an_upgrade(
    control_plane: ScriptedServer, make_client: MakeClient, tmp_path: Path
) -> None:
    spool = new_spool(tmp_path)
    kept = [spool.put(make_snapshot(collected_at=T0 + timedelta(minutes=m))) for m in range(2)]
    control_plane.queue(Reply(422, body=UNSUPPORTED))
    outcome = deliver_spooled(spool, make_client(control_plane.url))
    assert outcome.upgrade_required and not outcome.auth_failed
    assert outcome.stopped_reason is not None and "upgrade" in outcome.stopped_reason
    assert (outcome.delivered, outcome.remaining) == (0, 2)
    assert spool.entries() == kept
    assert spool.dropped_unreported() == 0
    assert len(control_plane.requests) == 1  # the rest would get the same answer


def test_auth_failure_stops_and_keeps_everything(
    control_plane: ScriptedServer, make_client: MakeClient, tmp_path: Path
) -> None:
    spool = new_spool(tmp_path)
    for minute in range(3):
        spool.put(make_snapshot(collected_at=T0 + timedelta(minutes=minute)))
    control_plane.queue(Reply(401))
    outcome = deliver_spooled(spool, make_client(control_plane.url))
    assert outcome.auth_failed
    assert (outcome.delivered, outcome.remaining) == (0, 3)
    assert len(control_plane.requests) == 1


def test_a_malformed_snapshot_is_set_aside_and_the_rest_still_goes(
    control_plane: ScriptedServer, make_client: MakeClient, tmp_path: Path
) -> None:
    spool = new_spool(tmp_path)
    bad, good = (spool.put(make_snapshot(collected_at=T0 + timedelta(minutes=m))) for m in range(2))
    control_plane.queue(
        Reply(422, body={"detail": {"message": "statements.0.calls: too big", "code": "invalid"}})
    )
    outcome = deliver_spooled(spool, make_client(control_plane.url))
    assert (outcome.delivered, outcome.dropped, outcome.remaining, outcome.stopped_reason) == (1, 1, 0, None)
    assert control_plane.snapshot_ids() == [str(bad.snapshot_id), str(good.snapshot_id)]
    assert (tmp_path / "quarantine" / bad.name).exists()
    assert spool.dropped_unreported() == 1


def test_a_corrupt_spool_file_is_set_aside_and_the_rest_still_goes(
    control_plane: ScriptedServer, make_client: MakeClient, tmp_path: Path
) -> None:
    spool = new_spool(tmp_path)
    corrupt, good = (spool.put(make_snapshot(collected_at=T0 + timedelta(minutes=m))) for m in range(2))
    corrupt.path.write_bytes(b"\x1f\x8b garbage")
    outcome = deliver_spooled(spool, make_client(control_plane.url))
    assert (outcome.delivered, outcome.dropped, outcome.remaining) == (1, 1, 0)
    assert control_plane.snapshot_ids() == [str(good.snapshot_id)]


def test_resend_after_outage_delivers_oldest_first_and_empties_the_spool(
    control_plane: ScriptedServer, make_client: MakeClient, clock: FakeClock, tmp_path: Path
) -> None:
    spool = new_spool(tmp_path)
    minutes = [2, 0, 1]
    puts = [make_snapshot(collected_at=T0 + timedelta(minutes=m)) for m in minutes]
    for snapshot in puts:
        spool.put(snapshot)
    client = make_client(control_plane.url, retry=RetryPolicy(max_attempts=2))
    control_plane.queue(Reply(503), Reply(503))
    during = deliver_spooled(spool, client)
    assert during.stopped_reason is not None and "HTTP 503" in during.stopped_reason
    assert (during.delivered, during.remaining) == (0, 3)
    assert len(clock.sleeps) == 1

    # The control plane is back, and a restarted agent picks up the same spool.
    after = deliver_spooled(new_spool(tmp_path), client)
    oldest_first = [str(s.snapshot_id) for s in sorted(puts, key=lambda s: s.collected_at)]
    assert control_plane.snapshot_ids()[2:] == oldest_first
    assert (after.delivered, after.duplicates, after.remaining, after.stopped_reason) == (3, 0, 0, None)
    assert spool.entries() == []


def test_a_snapshot_the_server_already_has_is_removed_as_a_duplicate(
    control_plane: ScriptedServer, make_client: MakeClient, tmp_path: Path
) -> None:
    spool = new_spool(tmp_path)
    spool.put(make_snapshot())
    control_plane.queue(Reply(200))
    outcome = deliver_spooled(spool, make_client(control_plane.url))
    assert (outcome.delivered, outcome.duplicates, outcome.remaining) == (1, 1, 0)


def test_a_passed_deadline_stops_delivery_and_keeps_the_spool(
    control_plane: ScriptedServer, make_client: MakeClient, clock: FakeClock, tmp_path: Path
) -> None:
    spool = new_spool(tmp_path)
    spool.put(make_snapshot())
    outcome = deliver_spooled(spool, make_client(control_plane.url), deadline=clock.now - 1)
    assert outcome.stopped_reason is not None and "deadline" in outcome.stopped_reason
    assert outcome.remaining == 1
    assert [r for r in control_plane.requests if r.path == SNAPSHOTS_PATH] == []


def test_connection_refused_keeps_everything(
    closed_port: int, make_client: MakeClient, tmp_path: Path
) -> None:
    spool = new_spool(tmp_path)
    spool.put(make_snapshot())
    client = make_client(f"http://127.0.0.1:{closed_port}", retry=RetryPolicy(max_attempts=2))
    outcome = deliver_spooled(spool, client)
    assert (outcome.delivered, outcome.remaining, outcome.auth_failed) == (0, 1, False)
    assert outcome.stopped_reason is not None
