"""Console entry points of the control plane (served in a later issue)."""

import sys


def serve() -> None:
    print("optischema-control-plane: not yet (arrives with issue 4)", file=sys.stderr)
    raise SystemExit(1)


def admin() -> None:
    print("optischema-admin: not yet (arrives with issue 4)", file=sys.stderr)
    raise SystemExit(1)
