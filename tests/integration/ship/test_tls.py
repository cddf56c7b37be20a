"""HTTPS with certificate verification: a private CA works only when its bundle is given."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.ship.errors import ControlPlaneUnavailable
from agent.ship.transport import ControlPlaneClient
from tests.integration.ship.conftest import FAST_TIMEOUTS, TOKEN, FakeClock, ScriptedServer
from tests.unit.ship.snapshots import make_snapshot


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(CA bundle, server certificate, server key) of a throwaway CA, for 127.0.0.1."""
    folder = tmp_path_factory.mktemp("ca")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OptiSchema test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    bundle, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    bundle.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return bundle, cert_path, key_path


@pytest.fixture
def tls_control_plane(private_ca: tuple[Path, Path, Path]) -> Iterator[ScriptedServer]:
    _bundle, cert, key = private_ca
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ScriptedServer(tls=context)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_private_ca_bundle_makes_https_work(
    tls_control_plane: ScriptedServer, private_ca: tuple[Path, Path, Path], clock: FakeClock
) -> None:
    bundle = private_ca[0]
    snapshot = make_snapshot()
    with ControlPlaneClient(
        tls_control_plane.url, TOKEN, ca_bundle=bundle, timeouts=FAST_TIMEOUTS, sleep=clock.sleep
    ) as client:
        assert client.post_snapshot(snapshot).snapshot_id == snapshot.snapshot_id
    assert tls_control_plane.snapshot_ids() == [str(snapshot.snapshot_id)]


def test_an_unknown_certificate_is_refused_at_once_without_retries(
    tls_control_plane: ScriptedServer, clock: FakeClock
) -> None:
    with (
        ControlPlaneClient(tls_control_plane.url, TOKEN, timeouts=FAST_TIMEOUTS, sleep=clock.sleep) as client,
        pytest.raises(ControlPlaneUnavailable, match="certificate was not accepted") as raised,
    ):
        client.post_snapshot(make_snapshot())
    assert clock.sleeps == []
    assert tls_control_plane.requests == []
    assert TOKEN not in str(raised.value)
