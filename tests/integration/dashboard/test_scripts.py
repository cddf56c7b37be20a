"""The scripts parse as ES modules, and every API call they make is one the contract (SPEC) lists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import get_args

import pytest

from control_plane.queries.schemas import OrderBy
from tests.integration.dashboard.conftest import SCRIPTS, api_calls

NODE = shutil.which("node")

# The user-facing endpoints of the contract, as (method, path pattern) under /api/v1.
CONTRACT = [
    ("POST", r"/auth/login"),
    ("POST", r"/auth/refresh"),
    ("POST", r"/auth/logout"),
    ("GET", r"/me"),
    ("GET", r"/databases"),
    ("POST", r"/databases"),
    ("DELETE", r"/databases/{id}"),
    ("POST", r"/databases/{id}/agent-token"),
    (
        "GET",
        r"/databases/{id}/queries\?order_by={id}&limit=\d+",
    ),  # the order is one of the sort buttons' keys
    ("GET", r"/databases/{id}/queries/{id}"),
    ("POST", r"/databases/{id}/analyze"),
    ("GET", r"/databases/{id}/analyses/{id}"),
    ("GET", r"/databases/{id}/recommendations({id})?"),
    ("GET", r"/databases/{id}/maintenance-window"),
    ("PUT", r"/databases/{id}/maintenance-window"),
    ("GET", r"/recommendations/{id}"),
    ("POST", r"/recommendations/{id}/(approve|reject|rollback|benchmark)"),
    ("GET", r"/audit(\?{id})?"),  # the filters, limit and offset as URLSearchParams
    ("POST", r"/live/ticket"),  # the single-use ticket a live event stream opens with
    # The Settings page (#/settings).
    ("POST", r"/me/password"),
    ("GET", r"/users"),
    ("POST", r"/users"),
    ("PATCH", r"/users/{id}"),
    ("POST", r"/users/{id}/disable"),
    ("GET", r"/databases/{id}/analyses\?limit=\d+"),
    ("GET", r"/settings/llm"),
    ("PUT", r"/settings/llm"),
    ("GET", r"/webhooks"),
    ("POST", r"/webhooks"),
    ("DELETE", r"/webhooks/{id}"),
    ("GET", r"/webhooks/{id}/deliveries\?limit=\d+"),
]
PLACEHOLDER = "${...}"


def normalized(path: str) -> str:
    """The path with every ${expression} as one placeholder, and the small ${path(id)} helper inlined."""
    path = re.sub(r"\$\{path\([^)]*\)\}", "/databases/" + PLACEHOLDER, path)
    path = re.sub(r"\$\{at\}", "/recommendations/" + PLACEHOLDER, path)
    return re.sub(r"\$\{[^}]*\}", PLACEHOLDER, path)


def in_contract(method: str, path: str) -> bool:
    return any(
        method == allowed and re.fullmatch(pattern.replace("{id}", re.escape(PLACEHOLDER)), path)
        for allowed, pattern in CONTRACT
    )


def test_the_scripts_make_api_calls() -> None:
    assert {(method, normalized(path)) for _, method, path in api_calls()} >= {
        ("GET", "/me"),
        ("GET", "/databases"),
        ("POST", "/databases"),
        ("POST", "/recommendations/${...}/approve"),
        ("POST", "/recommendations/${...}/reject"),
        ("POST", "/recommendations/${...}/rollback"),
        ("GET", "/recommendations/${...}"),
        ("POST", "/databases/${...}/analyze"),
        ("GET", "/databases/${...}/analyses/${...}"),
        ("GET", "/databases/${...}/maintenance-window"),
        ("PUT", "/databases/${...}/maintenance-window"),
        ("GET", "/audit?${...}"),
        ("POST", "/live/ticket"),
    }


@pytest.mark.parametrize(("script", "method", "path"), api_calls(), ids=lambda v: getattr(v, "name", v))
def test_every_api_call_is_in_the_contract(script: Path, method: str, path: str) -> None:
    assert in_contract(method, normalized(path)), f"{script.name}: {method} {path}"


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_script_is_a_valid_es_module(script: Path, tmp_path: Path) -> None:
    module = tmp_path / f"{script.stem}.mjs"  # .mjs: parsed as a module whatever node's defaults
    module.write_text(script.read_text())

    checked = subprocess.run([str(NODE), "--check", str(module)], capture_output=True, text=True, check=False)

    assert checked.returncode == 0, checked.stderr


def test_the_sort_buttons_are_the_orders_the_api_knows() -> None:
    script = next(s for s in SCRIPTS if s.name == "queries.js").read_text()
    # COLUMNS rows: [key, title, sort key (or null: not sortable), cell]
    keys = re.findall(r'^\s+\["\w+", "[^"]+", "(\w+)",', script, flags=re.MULTILINE)

    assert keys and set(keys) == set(get_args(OrderBy))
