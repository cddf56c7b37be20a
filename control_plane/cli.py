"""Console entry points of the control plane, declared in pyproject.toml.

Each imports its implementation lazily so that one command never pays for the other's imports.
"""


def serve() -> None:
    from control_plane.server import serve as run_server  # noqa: PLC0415

    run_server()


def admin() -> None:
    from control_plane.admin_cli import main  # noqa: PLC0415

    main()
