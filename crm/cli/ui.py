"""`crm ui`: the Dagster webserver and daemon (`dagster dev`) on the project database, DAGSTER_HOME inside the
checkout (git-ignored), run and event storage in the server's `dagster` database."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)
DAGSTER_YAML = """\
# Written by `crm ui`: run, event and schedule storage in PostgreSQL (the `dagster` database of the project's
# server); the URL comes from the environment at start-up, never from this file.
storage:
  postgres:
    postgres_url:
      env: DAGSTER_PG_URL
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2
telemetry:
  enabled: false
"""


def dagster_home() -> Path:
    from crm.settings import PROJECT_ROOT

    home = Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".local" / "dagster")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() != DAGSTER_YAML:
        config.write_text(DAGSTER_YAML)
    return home


def dagster_env(database_url: str) -> dict[str, str]:
    """What a Dagster process needs: its home, its storage URL (psycopg2 spelled out) and the project database."""
    from crm.db.urls import dagster_url, with_database

    return {"DAGSTER_HOME": str(dagster_home()), "DATABASE_URL": database_url,
            "DAGSTER_PG_URL": dagster_url(with_database(database_url, "dagster"))}


def ui(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(3000, help="Port of the Dagster UI."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background; `crm stop` stops it."),
) -> None:
    """The Dagster UI and daemon for the data platform (assets, checks, schedules)."""
    from crm.cli.db import ensure_database
    from crm.cli.processes import DAGSTER

    env = dagster_env(ensure_database())
    args = ["-m", "dagster", "dev", "-m", "orchestration.definitions", "-h", host, "-p", str(port)]
    url = launch(DAGSTER, "Dagster", args, env, detach, f"http://{host}:{port}", "/server_info", timeout_s=120,
                 wait_hint=" (about 25 s)")
    console.print(f"Dagster UI at {url} (DAGSTER_HOME {env['DAGSTER_HOME']}); logs in .run/dagster.log; "
                  "stop with `crm stop`.")


def launch(service, title: str, args: list[str], env: dict[str, str], detach: bool, url: str,  # noqa: ANN001
           health_path: str, timeout_s: float, wait_hint: str = "") -> str:
    """Runs `python <args>` in the foreground (replacing this process, so Ctrl-C goes straight to it), or starts it
    as a background service and returns once `url + health_path` answers; exits 1 with its log tail if it never
    does."""
    from crm.cli.processes import tail

    if not detach:
        os.environ.update(env)
        os.execv(sys.executable, [sys.executable, *args])
    service.start(args, env)
    with console.status(f"starting {title} at {url}{wait_hint}..."):
        if not _wait(f"{url}{health_path}", timeout_s=timeout_s):
            console.print(f"[red]{title} did not answer at {url}[/red]\n{tail(service.log_file)}")
            raise typer.Exit(1)
    return url


def _wait(url: str, timeout_s: float) -> bool:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False
