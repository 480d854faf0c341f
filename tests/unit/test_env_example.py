"""`.env.example` documents every setting the Settings class reads, and nothing it doesn't."""

from __future__ import annotations

import re

from crm.settings import PROJECT_ROOT, Settings

EXTRA_DOCUMENTED = {"TEST_DATABASE_URL", "CRM_RUN_DIR"}


def test_env_example_lists_every_setting() -> None:
    text = (PROJECT_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from .env.example"
    assert documented - fields - EXTRA_DOCUMENTED == set(), ".env.example lists settings that do not exist"
