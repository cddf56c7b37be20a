"""The agent's only way out: HTTPS requests to the control plane, retried politely, with typed errors.

Synchronous on purpose: the run loop does one thing at a time and a blocking client keeps the
retry schedule (sleep, deadline) explicit and injectable, so tests run without real waiting.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit
from uuid import UUID

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from agent.config import RunSettings
from agent.ship.backoff import RetryPolicy, is_retryable_status, parse_retry_after, retry_wait
from agent.ship.errors import (
    AuthenticationRejected,
    ControlPlaneUnavailable,
    PayloadRejected,
    PayloadTooLarge,
    ShipError,
    UnexpectedResponse,
    UnsupportedPayloadVersion,
)
from agent.ship.statement_texts import SentTexts
from agent.ship.url_policy import api_base_url, is_loopback_host
from shared.version import PRODUCT_VERSION
from shared.wire.heartbeat import Heartbeat
from shared.wire.jobs import LeaseRenewal
from shared.wire.snapshot import Snapshot, gzipped_json

logger = logging.getLogger(__name__)

USER_AGENT = f"optischema-agent/{PRODUCT_VERSION}"
UNSUPPORTED_VERSION_CODE = "unsupported_schema_version"
_PAYLOAD_STATUSES = frozenset({400, 409, 422})  # the server's verdict on this body, not on the setup
_MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class TransportTimeouts:
    connect_s: float = 10.0
    read_s: float = 30.0
    write_s: float = 30.0
    pool_s: float = 10.0

    def for_remaining(self, remaining_s: float | None) -> httpx.Timeout:
        """The timeouts, each shortened to what is left before a deadline.

        httpx's timeouts apply per phase, not to the whole exchange, so this bounds but does not
        guarantee the end of a request: good enough to keep a hung server from eating the cycle.
        """

        def clip(value: float) -> float:
            return value if remaining_s is None else max(0.001, min(value, remaining_s))

        return httpx.Timeout(
            connect=clip(self.connect_s),
            read=clip(self.read_s),
            write=clip(self.write_s),
            pool=clip(self.pool_s),
        )


class SnapshotAck(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    snapshot_id: UUID
    stored: bool
    duplicate: bool = False


class ControlPlaneClient:
    def __init__(
        self,
        api_url: str,
        agent_token: str,
        *,
        ca_bundle: Path | None = None,
        timeouts: TransportTimeouts = TransportTimeouts(),
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008  (frozen dataclass: sharing it is safe)
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        texts: SentTexts | None = None,
    ) -> None:
        """`texts`: which statement texts this control plane has been sent lately (statement_texts);
        a new memory by default, as at an agent's start."""
        self.base_url = api_base_url(api_url)
        self._texts = texts or SentTexts(timedelta(seconds=RunSettings.text_resend_after_s))
        token = agent_token.strip()
        if not token or any(ord(char) < 33 or ord(char) > 126 for char in token):
            # Said without the value: a token pasted with a stray character is still a secret.
            raise ValueError("the agent token is empty or contains spaces or control characters")
        self._token = token
        self._timeouts = timeouts
        self._retry = retry
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng or random.Random()  # noqa: S311  (jitter, not cryptography)
        self._http = httpx.Client(
            base_url=self.base_url,
            verify=_verification(ca_bundle),
            timeout=timeouts.for_remaining(None),
            headers={
                "User-Agent": USER_AGENT,
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
            },
            follow_redirects=False,  # a redirect would carry the bearer token somewhere unchecked
            # A corporate HTTP(S)_PROXY must not capture traffic to this machine itself.
            trust_env=not is_loopback_host(urlsplit(self.base_url).hostname or ""),
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def post_snapshot(self, snapshot: Snapshot, *, deadline: float | None = None) -> SnapshotAck:
        sent = self._texts.outgoing(snapshot)
        body = gzipped_json(sent)
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        response = self._request("POST", "/agent/snapshots", body, headers, deadline)
        try:
            ack = SnapshotAck.model_validate_json(response.content)
        except ValidationError:
            ack = None
        if ack is None or ack.snapshot_id != snapshot.snapshot_id:
            # Removing a snapshot from the spool on anything but the server's own ack could lose it
            # (a captive portal or a misrouted proxy also answers 200).
            raise UnexpectedResponse(
                f"the answer to snapshot {snapshot.snapshot_id} (HTTP {response.status_code}) is not an "
                f"acknowledgement from the control plane; check the API URL {self.base_url}",
                status=response.status_code,
            )
        self._texts.acknowledged(sent)
        return ack

    def post_heartbeat(self, heartbeat: Heartbeat, *, deadline: float | None = None) -> None:
        # Unset optional fields stay out: an older control plane refuses keys it does not know.
        self.post_json(
            "/agent/heartbeat", heartbeat.model_dump(mode="json", exclude_none=True), deadline=deadline
        )

    def renew_lease(self, job_id: UUID, *, deadline: float | None = None) -> LeaseRenewal | None:
        """Extends the lease of a job that is still running (a long index build).

        404 (unknown job) and 409 (no longer leased to this agent) raise like any rejection; an empty
        success answer is accepted, as the renewal is what counts and the new expiry only informs.
        """
        answer = self.post_json(f"/agent/jobs/{job_id}/lease", {}, deadline=deadline)
        if answer is None:
            return None
        try:
            return LeaseRenewal.model_validate(answer)
        except ValidationError:
            raise UnexpectedResponse(
                f"the answer to the lease renewal of job {job_id} is not a lease", status=200
            ) from None

    def get_json(self, path: str, *, deadline: float | None = None) -> Any:
        return self._decode(self._request("GET", _checked_path(path), None, {}, deadline))

    def post_json(
        self, path: str, body: BaseModel | Mapping[str, Any], *, deadline: float | None = None
    ) -> Any:
        content = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(dict(body))
        headers = {"Content-Type": "application/json"}
        return self._decode(self._request("POST", _checked_path(path), content.encode(), headers, deadline))

    def _request(
        self, method: str, path: str, content: bytes | None, headers: dict[str, str], deadline: float | None
    ) -> httpx.Response:
        what = f"{method} {self.base_url}{path}"
        status: int | None = None
        problem = "not attempted"
        for attempt in range(1, self._retry.max_attempts + 1):
            remaining = None if deadline is None else deadline - self._monotonic()
            if remaining is not None and remaining <= 0:
                raise ControlPlaneUnavailable(f"{what}: no time left before the deadline", cause="deadline")
            retry_after: float | None = None
            try:
                response = self._http.request(
                    method,
                    path,
                    content=content,
                    headers=headers,
                    timeout=self._timeouts.for_remaining(remaining),
                )
            except httpx.TransportError as error:
                status, problem = None, self._describe_network_error(error)
                if "CERTIFICATE_VERIFY_FAILED" in problem:
                    # Retrying cannot fix a certificate; saying so now beats a minute of backoff.
                    raise ControlPlaneUnavailable(
                        f"{what}: the server's TLS certificate was not accepted ({problem}); for a private "
                        "CA, give the agent its CA bundle",
                        cause=problem,
                    ) from None
            else:
                if response.is_success:
                    return response
                if not is_retryable_status(response.status_code):
                    raise self._rejection(response, what)
                status, problem = response.status_code, f"HTTP {response.status_code}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
            if attempt == self._retry.max_attempts:
                break
            wait = retry_wait(self._retry, attempt - 1, self._rng, retry_after)
            if deadline is not None and self._monotonic() + wait > deadline:
                raise ControlPlaneUnavailable(
                    f"{what}: {problem}; the next retry would pass the deadline", status=status, cause=problem
                )
            logger.warning(
                "control plane %s: %s; retrying in %.1f s (attempt %d of %d)",
                what,
                problem,
                wait,
                attempt,
                self._retry.max_attempts,
            )
            self._sleep(wait)
        raise ControlPlaneUnavailable(
            f"{what}: {problem} after {self._retry.max_attempts} attempts", status=status, cause=problem
        )

    def _describe_network_error(self, error: httpx.TransportError) -> str:
        text = self._scrub(str(error)) or "no details"
        return f"{type(error).__name__}: {text}"

    def _rejection(self, response: httpx.Response, what: str) -> ShipError:
        status = response.status_code
        message, code = _error_detail(response)
        message = self._scrub(message)
        if status in (401, 403):
            return AuthenticationRejected(status, message or None)
        if status == 413:
            return PayloadTooLarge(message or None)
        if code == UNSUPPORTED_VERSION_CODE and 400 <= status < 500:
            return UnsupportedPayloadVersion(status, message or None)
        if status in _PAYLOAD_STATUSES:
            return PayloadRejected(status, message or f"HTTP {status}", code)
        location = response.headers.get("Location")
        hint = f" (redirected to {self._scrub(location)})" if location else ""
        return UnexpectedResponse(
            f"{what}: unexpected HTTP {status}{hint}{': ' + message if message else ''}; check that the "
            "API URL is the control plane's server root",
            status=status,
        )

    def _scrub(self, text: str) -> str:
        # A server or proxy that echoes the request must not put the token into our logs.
        return text.replace(self._token, "***")[:_MESSAGE_LIMIT]

    def _decode(self, response: httpx.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise UnexpectedResponse(
                f"{response.request.method} {response.request.url.path}: the answer is not JSON",
                status=response.status_code,
            ) from None


def _verification(ca_bundle: Path | None) -> ssl.SSLContext | bool:
    if ca_bundle is None:
        return True
    try:
        # Only this bundle: a private CA's agent should not also trust every public CA.
        return ssl.create_default_context(cafile=str(ca_bundle))
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"the CA bundle {ca_bundle} cannot be used: {error}") from None


def _checked_path(path: str) -> str:
    if not path.startswith("/") or path.startswith("//") or "://" in path:
        raise ValueError(f"{path!r} must be a path under the API root, such as /agent/jobs")
    return path


def _error_detail(response: httpx.Response) -> tuple[str, str | None]:
    """The server's message and code from {"detail": {"message", "code"}}, or whatever it sent."""
    try:
        document = response.json()
    except ValueError:
        return response.text.strip(), None
    detail = document.get("detail") if isinstance(document, dict) else document
    if isinstance(detail, dict):
        code = detail.get("code")
        return str(detail.get("message", "")), code if isinstance(code, str) else None
    if isinstance(detail, list):  # FastAPI's request validation errors
        return "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail
        ), None
    return ("" if detail is None else str(detail)), None
