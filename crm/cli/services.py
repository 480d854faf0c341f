"""`crm serve`, `crm worker`, `crm stop`: the API and the queue worker."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import typer
from rich.console import Console

from crm.cli.db import ensure_database
from crm.cli.processes import API, WORKER, wait_for_ready
from crm.settings import get_settings

console = Console(stderr=True)


def _uvicorn_args() -> list[str]:
    settings = get_settings()
    return [
        "-m", "uvicorn", "serving.main:app",
        "--host", settings.api_host,
        "--port", str(settings.api_port),
        "--workers", str(settings.api_workers),
        "--no-access-log",
        "--log-level", "warning",
    ]


def fresh_metrics_dir() -> dict[str, str]:
    """The API's uvicorn workers sum their webhook counters through this folder (prometheus_client's multiprocess
    mode, see serving.services.metrics): PROMETHEUS_MULTIPROC_DIR if set, else .run/prometheus. Emptied of the
    previous run's files before the API starts, so the counters start at zero with it."""
    from crm.cli.processes import RUN_DIR

    path = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or RUN_DIR / "prometheus")
    path.mkdir(parents=True, exist_ok=True)
    for kind in ("counter", "gauge", "histogram", "summary"):
        for stale in path.glob(f"{kind}_*.db"):
            stale.unlink(missing_ok=True)
    return {"PROMETHEUS_MULTIPROC_DIR": str(path)}


SANDBOX_URL = "http://127.0.0.1:8765"


def start_sandbox(api_base_url: str) -> str:
    """The local Graph sandbox (what `crm sandbox` serves), posting status webhooks back to the API."""
    from crm.cli.processes import SANDBOX

    SANDBOX.start(["-m", "uvicorn", "serving.sandbox:app_from_env", "--factory", "--host", "127.0.0.1",
                   "--port", "8765", "--log-level", "warning"],
                  {"SANDBOX_WEBHOOK_URL": f"{api_base_url}/api/v1/webhooks/inbound"})
    return SANDBOX_URL


def start_background() -> str:
    """Start API and worker detached and return once /readyz answers; idempotent. In development, without
    META_GRAPH_BASE_URL set, sends go to the local Graph sandbox (Meta cannot be reached from a laptop demo)."""
    database_url = ensure_database()
    settings = get_settings()
    env = {"DATABASE_URL": database_url}
    if not settings.is_production and "META_GRAPH_BASE_URL" not in os.environ:
        env["META_GRAPH_BASE_URL"] = start_sandbox(settings.api_base_url)
    WORKER.start(["-m", "crm.cli.main", "worker"], env)
    API.start(_uvicorn_args(), env if API.is_running() else {**env, **fresh_metrics_dir()})
    try:
        wait_for_ready(settings.api_base_url, service=API)
    except RuntimeError as exc:
        console.print(f"[red]API did not become ready:[/red] {exc}")
        raise typer.Exit(1) from exc
    return settings.api_base_url


def serve(
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background; `crm stop` stops it."),
) -> None:
    """Run the API and the worker (foreground unless --detach)."""
    if detach:
        base_url = start_background()
        console.print(f"API ready at {base_url} (docs at {base_url}/docs); worker running. "
                      f"Logs in .run/; stop with `crm stop`.")
        return
    database_url = ensure_database()
    import subprocess

    worker = subprocess.Popen([sys.executable, "-m", "crm.cli.main", "worker"],
                              env={**os.environ, "DATABASE_URL": database_url})
    try:
        os.environ["DATABASE_URL"] = database_url
        code = subprocess.call([sys.executable, *_uvicorn_args()], env={**os.environ, **fresh_metrics_dir()})
    except KeyboardInterrupt:
        code = 0
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    raise typer.Exit(code)


def sandbox(
    port: int = typer.Option(8765, help="Port on 127.0.0.1."),
    webhook_url: str = typer.Option(None, help="Where to post status webhooks (default: this machine's API)."),
) -> None:
    """Serve the local Graph API sandbox in the foreground (records sends at GET /_sandbox/messages)."""
    import uvicorn

    from serving.sandbox import create_sandbox

    settings = get_settings()
    url = webhook_url or f"{settings.api_base_url}/api/v1/webhooks/inbound"
    secret = settings.meta_app_secret[0] if settings.meta_app_secret else None
    uvicorn.run(create_sandbox(url, secret), host="127.0.0.1", port=port, log_level="warning")


def worker(
    concurrency: int = typer.Option(None, help="Jobs processed at once per process (default WORKER_CONCURRENCY)."),
    processes: int = typer.Option(None, help="Worker processes (default WORKER_PROCESSES; one per core)."),
) -> None:
    """Run the queue worker in the foreground (several processes: the pipeline is CPU-bound Python)."""
    import subprocess

    from crm.logging import configure_logging
    from serving.worker import run_worker

    settings = get_settings()
    configure_logging(settings.log_level)
    database_url = ensure_database()
    count = max(1, processes or settings.worker_processes)
    extra = [subprocess.Popen([sys.executable, "-m", "crm.cli.main", "worker", "--processes", "1",
                               *(["--concurrency", str(concurrency)] if concurrency else [])],
                              env={**os.environ, "DATABASE_URL": database_url}) for _ in range(count - 1)]
    try:
        asyncio.run(run_worker(database_url, concurrency=concurrency))
    finally:
        for child in extra:
            child.send_signal(signal.SIGTERM)
        for child in extra:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


def stop(
    db: bool = typer.Option(False, "--db", help="Also stop the embedded PostgreSQL."),
) -> None:
    """Stop what the project started: API, worker, Graph sandbox (and the embedded database with --db)."""
    from crm.cli.processes import ALL_SERVICES

    for service in ALL_SERVICES:
        if service.stop():
            console.print(f"stopped {service.name}")
    if db:
        from crm.cli.db import down

        down()
