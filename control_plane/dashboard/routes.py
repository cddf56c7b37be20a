"""Routes of the dashboard: `/` (the app), `/login` (sign-in) and `/static/<file>` (its assets).

Every response carries the app's strict Content-Security-Policy (control_plane.edges.security_headers):
scripts, styles and requests go to this origin only, nothing runs inline, no other site frames a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from control_plane.api.errors import NotFound

STATIC_DIR = Path(__file__).with_name("static")

# The security headers (CSP, frame denial, nosniff...) are set on every response of the app by
# control_plane.edges.security_headers; only caching is the dashboard's own.
# Assets are small and change with every release: revalidate rather than serve a stale app.
ASSET_HEADERS: dict[str, str] = {"Cache-Control": "no-cache"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",  # the vendored packages' licenses (vendor.json)
}

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


def load_assets(directory: Path = STATIC_DIR) -> dict[str, Asset]:
    """The files the dashboard serves, by name. Read once: a request can only name one of these,
    so no path a client sends ever reaches the file system."""
    return {
        path.name: Asset(path.read_bytes(), CONTENT_TYPES[path.suffix])
        for path in sorted(directory.iterdir())
        if path.is_file() and path.suffix in CONTENT_TYPES
    }


ASSETS = load_assets()


def asset_response(name: str) -> Response:
    asset = ASSETS.get(name)
    if asset is None:
        raise NotFound("no such dashboard file")
    return Response(asset.body, media_type=asset.content_type, headers=ASSET_HEADERS)


@router.get("/")
async def dashboard() -> Response:
    return asset_response("index.html")


@router.get("/login")
async def login_page() -> Response:
    return asset_response("login.html")


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    return asset_response(name)
