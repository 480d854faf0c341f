"""The Dagster code location: every definition lives under orchestration/defs/ (one folder per domain) and is
loaded from there ([tool.dg] in pyproject.toml names the folder). Nothing expensive happens at import:
resources resolve their secrets at run launch."""

from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).resolve().parent)
