"""Security headers on every response the control plane sends: API JSON, errors (4xx, 503 and even an
unhandled 500), the dashboard, its static files and 404s.

The middleware wraps the whole ASGI stack, outside Starlette's ServerErrorMiddleware, because a
middleware added with `app.add_middleware` never sees the response that one makes for an unhandled
exception.

The Content-Security-Policy is the dashboard's: scripts, styles and requests go to this origin
only, nothing runs inline, and no other site may frame a page (clickjacking). On JSON it costs
nothing and keeps a response opened in a browser tab inert. HSTS is sent outside development only:
a developer's http://127.0.0.1 would otherwise be pinned to HTTPS by the browser for a year.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# One year, the minimum the browsers' preload lists accept.
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(*, development: bool) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if not development:
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeaders:
    """Pure ASGI: sets the headers on `http.response.start`, so streaming bodies pass untouched."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self._app = app
        self._headers = dict(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in self._headers.items():
                    response_headers[name] = value
            await send(message)

        await self._app(scope, receive, send_with_headers)
