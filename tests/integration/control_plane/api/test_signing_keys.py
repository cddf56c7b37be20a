"""The job-signing key: stored encrypted, published signed, rotated without leaving pinned agents behind."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.jobs.trust import PinnedKeys
from agent.jobs.verification import JobVerifier, ReplayStore
from control_plane.app import create_app
from control_plane.crypto.keys import fernet_for
from control_plane.signing.service import JobSigningKeys
from shared.job_signing import key_id_for, raw_public_key
from shared.wire.jobs import SigningKeySet
from tests.integration.control_plane.api.conftest import (
    SECRET,
    SeededTenant,
    bearer,
    register_database,
    settings_for,
)
from tests.integration.control_plane.api.test_agent_jobs import lease, published_keys, queue
from tests.integration.control_plane.conftest import run_admin


def rotate(metadata_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_admin("rotate-signing-key", *args, url=metadata_url, env={"OPTISCHEMA_SECRET_KEY": SECRET})


def stored_keys(metadata_url: str) -> list[tuple[str, bytes, bytes | None, str]]:
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute(
            "SELECT key_id, public_key, private_key_encrypted, status FROM signing_keys ORDER BY created_at"
        ).fetchall()
    return [
        (key_id, bytes(public), None if private is None else bytes(private), status)
        for key_id, public, private, status in rows
    ]


def statuses(key_set: SigningKeySet) -> dict[str, str]:
    return {key.key_id: key.status for key in key_set.keys}


def test_the_key_generated_on_first_start_is_stored_encrypted(client: TestClient, metadata_url: str) -> None:
    ((key_id, public, encrypted, status),) = stored_keys(metadata_url)

    assert encrypted is not None and status == "active"
    raw = fernet_for(SECRET).decrypt(encrypted)
    assert raw_public_key(Ed25519PrivateKey.from_private_bytes(raw)) == public
    assert key_id == key_id_for(public)
    assert raw not in encrypted and base64.b64encode(raw) not in encrypted


@pytest.mark.asyncio
async def test_replicas_starting_together_generate_a_single_key(
    metadata_url: str, metadata_engine: AsyncEngine
) -> None:
    settings = settings_for(metadata_url)

    await asyncio.gather(*(JobSigningKeys(metadata_engine, settings).ensure() for _ in range(4)))

    assert [status for *_, status in stored_keys(metadata_url)] == ["active"]


def test_a_configured_key_signs_and_is_never_stored_in_the_clear(
    metadata_url: str, acme: SeededTenant
) -> None:
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    settings = settings_for(metadata_url, job_signing_key=base64.b64encode(raw).decode())

    with TestClient(create_app(settings)) as client:
        database = register_database(client, acme)
        agent = bearer(database["agent_token"])
        queue(client, acme, database["id"])
        (signed,) = lease(client, agent)

    ((key_id, _, encrypted, _),) = stored_keys(metadata_url)
    assert key_id == signed.key_id == key_id_for(raw_public_key(private))
    assert encrypted is not None and raw not in encrypted and base64.b64encode(raw) not in encrypted


def test_a_rotation_is_published_before_it_signs_and_a_pinned_agent_follows_it(
    client: TestClient, acme: SeededTenant, metadata_url: str, tmp_path: Path
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    pinned = PinnedKeys.load(tmp_path)
    pinned.update_from(published_keys(client, agent))  # first contact: trust on first use
    (old,) = pinned.key_ids

    added = rotate(metadata_url)
    during = published_keys(client, agent)
    queue(client, acme, database["id"])
    signed_during = lease(client, agent)
    pinned.update_from(during)
    activated = rotate(metadata_url, "--activate")
    queue(client, acme, database["id"])
    signed_after = lease(client, agent)
    after = published_keys(client, agent)

    assert added.returncode == 0, added.stderr
    new = json.loads(added.stdout)["key_id"]
    assert json.loads(added.stdout) == {"key_id": new, "status": "next"}
    assert statuses(during) == {old: "active", new: "next"} and during.signed_by == old
    assert [job.key_id for job in signed_during] == [old]  # published ahead of use, not used yet
    assert activated.returncode == 0, activated.stderr
    assert [job.key_id for job in signed_after] == [new]
    assert statuses(after) == {old: "retired", new: "active"} and after.signed_by == new
    # The agent never saw the set signed by the new key, and still trusts the job it signed.
    verifier = JobVerifier(pinned, ReplayStore.load(tmp_path), database_id=None)
    assert str(verifier.verify(signed_after[0]).database_id) == database["id"]
    pinned.update_from(after)
    assert sorted(pinned.key_ids) == sorted([old, new])
    ((_, _, retired_private, _), _) = stored_keys(metadata_url)
    assert retired_private is None  # a retired key cannot sign again


def test_the_admin_cli_lists_the_public_keys_agents_can_be_configured_with(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])

    listed = rotate(metadata_url)  # a next key too
    printed = run_admin("signing-keys", url=metadata_url)

    assert listed.returncode == 0 and printed.returncode == 0, printed.stderr
    published = published_keys(client, agent).model_dump(mode="json")["keys"]
    assert json.loads(printed.stdout)["keys"] == published


def test_activating_with_no_next_key_says_so(client: TestClient, metadata_url: str) -> None:
    refused = rotate(metadata_url, "--activate")

    assert refused.returncode == 1
    assert "no next key" in refused.stderr
    assert [status for *_, status in stored_keys(metadata_url)] == ["active"]


def test_a_next_key_becomes_active_on_its_own_after_the_grace_period(
    metadata_url: str, acme: SeededTenant
) -> None:
    with TestClient(create_app(settings_for(metadata_url))) as client:
        agent = bearer(register_database(client, acme)["agent_token"])
    new = json.loads(rotate(metadata_url).stdout)["key_id"]
    settings = settings_for(metadata_url, job_signing_rotation_grace_s=0, job_signing_retired_publish_s=0)

    with TestClient(create_app(settings)) as restarted:  # the start-up step runs the periodic one too
        key_set = published_keys(restarted, agent)

    assert statuses(key_set) == {new: "active"}  # retired, and no longer published after 0 s
