"""`make soak`: the fault suite at length (three rounds of every fault), its accounting as JSON.

Durations: OPTISCHEMA_SOAK_ROUNDS (3), OPTISCHEMA_SOAK_METADATA_OUTAGE_S (15),
OPTISCHEMA_SOAK_BETWEEN_FAULTS_S (10). Exit 1 when any promise broke.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from tests.soak.harness import SoakPlan, run_soak
from tests.soak.verdict import broken_promises


def main() -> int:
    plan = SoakPlan(
        rounds=int(os.environ.get("OPTISCHEMA_SOAK_ROUNDS", "3")),
        metadata_outage_s=float(os.environ.get("OPTISCHEMA_SOAK_METADATA_OUTAGE_S", "15")),
        between_faults_s=float(os.environ.get("OPTISCHEMA_SOAK_BETWEEN_FAULTS_S", "10")),
        control_plane_down_s=5.0,
        warmup_s=10.0,
    )
    accounting = run_soak(plan, Path(tempfile.mkdtemp(prefix="optischema-soak-")))
    broken = broken_promises(accounting, plan)
    print(json.dumps({**accounting.as_dict(), "broken_promises": broken}, indent=2))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
