"""The dashboard's pages and assets: served from the package, locked down by their headers, and
loading nothing from anywhere but the control plane itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from control_plane.dashboard.routes import ASSETS, STATIC_DIR
from tests.integration.dashboard.conftest import PAGES, SCRIPTS, STYLESHEETS


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, and the text inside <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data.strip()


def parse(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    return parser


def assert_locked_down(headers: dict[str, str]) -> None:
    policy = headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "*" not in policy
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/login"])
def test_pages_are_html_with_a_strict_content_security_policy(pages: TestClient, path: str) -> None:
    response = pages.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert_locked_down(dict(response.headers))


def test_the_login_page_has_the_sign_in_form(pages: TestClient) -> None:
    page = parse(pages.get("/login").text)

    forms = [attrs for tag, attrs in page.tags if tag == "form"]
    inputs = {attrs["name"]: attrs for tag, attrs in page.tags if tag == "input"}
    assert forms == [
        {"id": "login-form", "method": "post", "autocomplete": "on"}
    ]  # never GET: no password in a URL
    assert inputs["email"]["type"] == "email"
    assert inputs["password"]["type"] == "password"
    assert ("script", {"type": "module", "src": "/static/login.js"}) in page.tags


def test_the_dashboard_page_loads_the_app_script_and_shows_who_is_signed_in(pages: TestClient) -> None:
    page = parse(pages.get("/").text)

    ids = {attrs.get("id") for _, attrs in page.tags}
    assert {"view", "user-email", "user-role", "sign-out", "global-error"} <= ids
    assert ("script", {"type": "module", "src": "/static/app.js"}) in page.tags


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_every_asset_is_served_with_its_type_and_the_same_headers(pages: TestClient, name: str) -> None:
    response = pages.get(f"/static/{name}")

    assert response.status_code == 200
    assert response.content == (STATIC_DIR / name).read_bytes()
    types = {
        "js": "text/javascript",
        "css": "text/css",
        "html": "text/html",
        "svg": "image/svg+xml",
        "txt": "text/plain",
    }
    expected = types[name.rsplit(".", 1)[1]]
    assert response.headers["content-type"].startswith(expected)
    assert_locked_down(dict(response.headers))


@pytest.mark.parametrize(
    "path", ["/static/nothing.js", "/static/..%2Froutes.py", "/static/%2e%2e%2f__init__.py", "/static/"]
)
def test_only_the_packaged_assets_can_be_fetched(pages: TestClient, path: str) -> None:
    assert pages.get(path).status_code == 404


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_run_no_inline_script_or_style_and_load_only_same_origin_files(page: object) -> None:
    parsed = parse(page.read_text())  # type: ignore[attr-defined]

    assert parsed.script_text == ""
    for tag, attrs in parsed.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert "style" not in attrs, (tag, attrs)
        for name in ("src", "href"):
            url = attrs.get(name)
            if url is not None and tag in {"script", "link", "img"}:
                assert url.startswith("/static/") and url.removeprefix("/static/") in ASSETS, url


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_import_only_packaged_modules(script: object) -> None:
    text = script.read_text()  # type: ignore[attr-defined]

    imports = re.findall(r"""^import .* from "([^"]+)";$""", text, flags=re.MULTILINE)
    for module in imports:
        assert module.startswith("./") and module.removeprefix("./") in ASSETS, module
    assert not re.search(
        r"https?://(?!www\.w3\.org/2000/svg)", text
    )  # the SVG namespace is a name, not a fetch


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_never_parse_data_as_html_nor_keep_tokens_where_they_leak(script: object) -> None:
    text = script.read_text()  # type: ignore[attr-defined]

    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in text, sink
    if script.name == "theme.js":  # type: ignore[attr-defined]  # the theme: kept beyond the tab
        assert set(re.findall(r'KEY = "([^"]+)"', text)) == {"optischema.theme"}
    else:
        assert "localStorage" not in text  # sessionStorage only: gone with the tab
    assert not re.search(r"[?&](access_|refresh_)?token=", text)  # tokens travel in headers, never URLs


@pytest.mark.parametrize("stylesheet", STYLESHEETS, ids=lambda p: p.name)
def test_stylesheets_load_nothing_from_elsewhere(stylesheet: object) -> None:
    text = stylesheet.read_text()  # type: ignore[attr-defined]

    assert "@import" not in text and "url(" not in text
