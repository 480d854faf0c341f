"""Where the dbt project and its parsed manifest are. The manifest is made by `dbt parse` into .local/dbt/
(git-ignored) whenever the definitions load and it is missing or older than the project's files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

ROOT = Path(__file__).resolve().parents[3]
PROJECT_DIR = ROOT / "dbt_project"
TARGET_DIR = ROOT / ".local" / "dbt" / "target"
LOG_DIR = ROOT / ".local" / "dbt" / "logs"
# `dbt parse` renders the profile but does not connect: placeholders are enough.
PARSE_ENV = {"DBT_USER": "parse", "DBT_DBNAME": "parse"}

crm_dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR, target_path=TARGET_DIR)


def _stale(manifest: Path) -> bool:
    """Missing, or older than any file of the project (a model or its YAML changed since the last parse)."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [PROJECT_DIR / "dbt_project.yml", *(PROJECT_DIR / folder for folder in ("models", "macros", "tests"))]
    files = [p for root in sources for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()]
    return any(path.stat().st_mtime > built for path in files)


def ensure_manifest(force: bool = False) -> Path:
    """Parse the project when the manifest is missing or stale (or forced); returns the manifest's path."""
    manifest = crm_dbt_project.manifest_path
    if force or _stale(manifest):
        env = {**PARSE_ENV, **os.environ, "DBT_LOG_PATH": str(LOG_DIR)}
        subprocess.run([str(Path(sys.executable).parent / "dbt"), "parse", "--project-dir", str(PROJECT_DIR),
                        "--profiles-dir", str(PROJECT_DIR), "--target-path", str(TARGET_DIR), "--log-path",
                        str(LOG_DIR), "--quiet"], env=env, check=True, cwd=ROOT)
    return manifest
