"""build_chain turns LLM_PROVIDERS-style settings into a chain without importing any provider SDK."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ml.llm.anthropic_provider import AnthropicProvider
from ml.llm.chain import build_chain
from ml.llm.gemini_provider import GeminiProvider
from ml.llm.openai_provider import OpenAIProvider
from tests.unit.llm.test_chain import FakeLocal

ROOT = Path(__file__).resolve().parents[3]


def test_providers_without_keys_are_skipped_and_order_is_kept() -> None:
    local = FakeLocal()
    chain = build_chain(
        ["gemini", "local", "openai", "anthropic"],
        keys={"openai": "sk-1", "anthropic": None, "gemini": "g-1"},
        models={"openai": "gpt-4.1-mini"},
        local=local, timeout_s=3.0, max_retries=1, mode="cascade", cascade_threshold=0.6,
    )

    assert [type(p) for p in chain.providers] == [GeminiProvider, OpenAIProvider]
    gemini, openai = chain.providers
    assert (gemini.model, openai.model) == ("gemini-2.5-flash", "gpt-4.1-mini")  # default vs setting
    assert (openai.timeout_s, openai.max_retries) == (3.0, 1)
    assert chain.local is local
    assert (chain.mode, chain.cascade_threshold) == ("cascade", 0.6)


def test_only_local_gives_an_offline_chain() -> None:
    chain = build_chain(["local"], keys={"openai": "sk"}, models={}, local=FakeLocal())
    assert chain.providers == []


def test_default_anthropic_model_is_current() -> None:
    chain = build_chain(["anthropic"], keys={"anthropic": "k"}, models={}, local=FakeLocal())
    assert isinstance(chain.providers[0], AnthropicProvider)
    assert chain.providers[0].model == "claude-sonnet-4-6"


def test_unknown_provider_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="mistral"):
        build_chain(["openai", "mistral"], keys={"openai": "k"}, models={}, local=FakeLocal())


def test_importing_and_building_the_chain_loads_no_sdk() -> None:
    script = textwrap.dedent("""
        import sys
        from ml.llm.chain import build_chain
        from ml.nlu.types import IntentResult

        class Local:
            name = "local"

        build_chain(["openai", "anthropic", "gemini", "local"],
                    keys={"openai": "a", "anthropic": "b", "gemini": "c"}, models={}, local=Local())
        heavy = sorted(m for m in sys.modules
                       if m.split(".")[0] in ("openai", "anthropic", "httpx2")
                       or m.startswith("google.genai"))
        print(",".join(heavy))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
