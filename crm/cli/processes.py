"""Background processes started by the project (API, worker, sandbox): pid files and logs in `.run/`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from crm.settings import PROJECT_ROOT

# Pid files and logs; CRM_RUN_DIR lets tests run a second stack beside a developer's.
RUN_DIR = Path(os.environ.get("CRM_RUN_DIR") or PROJECT_ROOT / ".run")


_CHILDREN: dict[str, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Service:
    name: str

    @property
    def pid_file(self) -> Path:
        return RUN_DIR / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return RUN_DIR / f"{self.name}.log"

    def pid(self) -> int | None:
        """The recorded pid, if that process is still ours (after a reboot the number may be someone else's)."""
        try:
            recorded = self.pid_file.read_text().split()
            pid, marker = int(recorded[0]), recorded[1] if len(recorded) > 1 else ""
        except (FileNotFoundError, ValueError, IndexError):
            return None
        child = _CHILDREN.get(self.name)
        if child is not None and child.pid == pid:
            # Started by this process: between fork and exec its cmdline is still ours, so ask Popen instead.
            if child.poll() is None:
                return pid
        elif _alive(pid) and (not marker or marker in _cmdline(pid)):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self, args: list[str], env: dict[str, str]) -> int:
        """Start detached (own session, so it outlives the command that started it); idempotent."""
        if (pid := self.pid()) is not None:
            return pid
        RUN_DIR.mkdir(exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=PROJECT_ROOT,
                env={**os.environ, **env},
                start_new_session=True,
            )
        # The pid plus a word of its command line, so a recycled pid is never mistaken for ours.
        self.pid_file.write_text(f"{process.pid} {_marker(args)}\n")
        _CHILDREN[self.name] = process
        return process.pid

    def stop(self, timeout_s: float = 15.0) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            _signal_group(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


def _marker(args: list[str]) -> str:
    """The module the service runs (`serving.main:app`, `crm.cli.main`, ...): present in its /proc cmdline."""
    return next((arg for arg in args if "." in arg and not arg.startswith("-")), args[-1])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


API = Service("api")
WORKER = Service("worker")
SANDBOX = Service("sandbox")
DAGSTER = Service("dagster")
MLFLOW = Service("mlflow")
ALL_SERVICES = (API, WORKER, SANDBOX, DAGSTER, MLFLOW)


def wait_for_ready(base_url: str, timeout_s: float = 60.0, service: Service | None = None) -> None:
    """Poll /readyz until it answers 200; fail early, with the log's tail, if the process died."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if service is not None and not service.is_running():
            raise RuntimeError(f"{service.name} exited during start-up:\n{tail(service.log_file)}")
        try:
            response = httpx.get(f"{base_url}/readyz", timeout=2.0)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.25)
    raise RuntimeError(f"{base_url}/readyz not ready after {timeout_s:.0f}s ({last})")


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
