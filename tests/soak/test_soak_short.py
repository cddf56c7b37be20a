"""The fault suite, shortened for `make test`: one round of every fault (`make soak` runs three,
longer). Every execution counted exactly once, /readyz truthful, 503s with Retry-After and never a
500 or a hang, an agent that never exits on its own and whose memory stays flat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.soak.harness import SoakPlan, run_soak
from tests.soak.verdict import broken_promises

pytestmark = pytest.mark.slow


def test_one_round_of_every_fault_loses_nothing_and_breaks_no_promise(tmp_path: Path) -> None:
    plan = SoakPlan(rounds=1)

    accounting = run_soak(plan, tmp_path)

    print(json.dumps(accounting.as_dict(), indent=2))  # the accounting, in the test log
    assert broken_promises(accounting, plan) == [], accounting.as_dict()
    assert accounting.faults[:2] == ["control plane killed", "up"]
