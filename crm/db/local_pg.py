"""The embedded PostgreSQL cluster used when DATABASE_URL is unset.

One cluster per checkout (and one more for the test suite), on 127.0.0.1 with trust auth and a non-default
port. A normal user keeps the data inside the checkout (`.local/`, git-ignored). PostgreSQL refuses to run as
root, so as root the server runs as the `postgres` OS user, with its data under the system temp folder in a
folder named by a hash of the checkout path (a checkout in a mode-700 folder is out of that user's reach).
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import stat
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from crm.settings import PROJECT_ROOT

SERVER_USER = "postgres"
DB_USER = "crm"
EXTRA_DATABASES = ("dagster", "mlflow")


class LocalPostgresError(RuntimeError):
    """The embedded cluster could not be set up or started; the message says what to do."""


@dataclass(frozen=True)
class ClusterProfile:
    """`dev` for make demo/serve, `test` for the suite (fsync off: tests only)."""

    name: str
    default_port: int
    database: str
    fast_unsafe: bool


# Ports below Linux's ephemeral range (32768-60999), so an outgoing connection's source port never sits on them.
DEV = ClusterProfile(name="dev", default_port=25432, database="crm", fast_unsafe=False)
TEST = ClusterProfile(name="test", default_port=25433, database="crm_test", fast_unsafe=True)


def _is_root() -> bool:
    return os.geteuid() == 0


def base_dir(profile: ClusterProfile, override: Path | None = None) -> Path:
    if override is not None:
        return override / profile.name
    if not _is_root():
        return PROJECT_ROOT / ".local" / "pg" / profile.name
    digest = hashlib.sha256(str(PROJECT_ROOT).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"autonomous-crm-{digest}" / profile.name


def find_bindir() -> Path:
    """Debian keeps initdb/pg_ctl off the PATH; look where it puts them."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")), reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise LocalPostgresError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found. Install them (Debian: "
        "`apt-get install postgresql`) or set DATABASE_URL to an existing server."
    )


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class LocalCluster:
    """Start, stop and describe one embedded cluster. Every method is idempotent."""

    def __init__(self, profile: ClusterProfile = DEV, root: Path | None = None, port: int | None = None):
        self.profile = profile
        self.base = base_dir(profile, root)
        self.data_dir = self.base / "data"
        self.socket_dir = self.base / "run"
        self.log_file = self.base / "postgres.log"
        self.port_file = self.base / "port"
        self._requested_port = port
        self._bindir: Path | None = None

    # -- paths and facts -------------------------------------------------------------------------------------
    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    @property
    def port(self) -> int:
        if self.port_file.exists():
            return int(self.port_file.read_text().strip())
        return self._requested_port or self.profile.default_port

    def url(self, database: str | None = None) -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{database or self.profile.database}"

    def is_initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialized():
            return False
        result = self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "status"], check=False)
        return result.returncode == 0

    # -- lifecycle -------------------------------------------------------------------------------------------
    def up(self) -> str:
        """Initialise if needed, start if stopped, create the databases; return the URL of the main one."""
        if not self.is_initialized():
            self._init()
        if not self.is_running():
            self._start()
        self._wait_ready()
        self._create_databases()
        return self.url()

    def down(self) -> bool:
        """Stop the server; True when it was running."""
        if not self.is_running():
            return False
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
        return True

    def destroy(self) -> None:
        self.down()
        shutil.rmtree(self.base, ignore_errors=True)

    # -- internals -------------------------------------------------------------------------------------------
    def _run(self, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        if _is_root():
            cmd = ["runuser", "-u", SERVER_USER, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd="/")
        if check and result.returncode != 0:
            raise LocalPostgresError(f"{' '.join(cmd)} failed:\n{result.stdout}{result.stderr}")
        return result

    def _prepare_dirs(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if _is_root():
            # Hand the server user only the folders this project created for it, and only real folders owned by
            # root or that user: in a shared temp folder another user could have planted a link or a folder.
            owned = [self.base, self.socket_dir]
            if self.base.parent.name.startswith("autonomous-crm-"):
                owned.insert(0, self.base.parent)
            server_uid = pwd.getpwnam(SERVER_USER).pw_uid
            for folder in owned:
                info = os.lstat(folder)
                if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (0, server_uid):
                    raise LocalPostgresError(f"{folder} is not a folder owned by root or {SERVER_USER}; "
                                             "remove it or set CRM_PG_DIR elsewhere")
                os.chown(folder, server_uid, server_uid, follow_symlinks=False)
                folder.chmod(0o700)

    def _choose_port(self, start_after: int | None = None) -> int:
        port = start_after + 1 if start_after else self._requested_port or self.profile.default_port
        for candidate in range(port, port + 50):
            if not _port_in_use(candidate):
                return candidate
        raise LocalPostgresError(f"no free port in {port}..{port + 49} for the embedded PostgreSQL")

    def _init(self) -> None:
        self._prepare_dirs()
        result = self._run(
            [
                str(self.bindir / "initdb"),
                "-D", str(self.data_dir),
                "-U", DB_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=False,
        )
        if result.returncode != 0:
            raise LocalPostgresError(f"initdb failed:\n{result.stdout}{result.stderr}")
        self.port_file.write_text(str(self._choose_port()))
        if _is_root():
            shutil.chown(self.port_file, SERVER_USER, SERVER_USER)

    def _server_options(self) -> str:
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.socket_dir}",
            "-c max_connections=200",
            "-c shared_buffers=256MB",
        ]
        if self.profile.fast_unsafe:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return " ".join(options)

    def _start(self) -> None:
        if _port_in_use(self.port):
            # Another server (another checkout's cluster, say) took our port while we were stopped: move.
            self.port_file.write_text(str(self._choose_port()))
            if _is_root():
                shutil.chown(self.port_file, SERVER_USER, SERVER_USER)
        self._prepare_dirs()
        result = self._pg_ctl_start()
        if result.returncode != 0 and "Address already in use" in self._log_tail():
            # Lost a race for the port (or a socket lingers on it): once more on a fresh one.
            self.port_file.write_text(str(self._choose_port(start_after=self.port)))
            result = self._pg_ctl_start()
        if result.returncode != 0:
            raise LocalPostgresError(f"PostgreSQL did not start:\n{result.stdout}{result.stderr}\n{self._log_tail()}")

    def _pg_ctl_start(self) -> subprocess.CompletedProcess[str]:
        return self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D", str(self.data_dir),
                "-l", str(self.log_file),
                "-o", self._server_options(),
                "-w", "-t", "30",
                "start",
            ],
            check=False,
        )

    def _log_tail(self) -> str:
        return self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""

    def _wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                last_error = exc
                time.sleep(0.1)
        raise LocalPostgresError(f"PostgreSQL on port {self.port} did not accept connections: {last_error}")

    def _create_databases(self) -> None:
        ensure_databases(self.url("postgres"), (self.profile.database, *EXTRA_DATABASES))


def ensure_databases(admin_url: str, names: tuple[str, ...]) -> None:
    """Create each database that does not exist yet (CREATE DATABASE has no IF NOT EXISTS)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                try:
                    conn.execute(f'CREATE DATABASE "{name}"')
                except psycopg.errors.DuplicateDatabase:
                    pass  # created concurrently by another launcher
