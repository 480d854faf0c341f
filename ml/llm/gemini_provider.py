"""Gemini adapter: google-genai's `client.aio.models.generate_content`, JSON via `response_mime_type`.

google-genai 3.3 takes an injected async client through `HttpOptions(httpx_async_client=...)` (an
httpx2.AsyncClient here), which is how tests replay responses. It raises raw httpx / httpx2 / aiohttp
timeouts rather than its own type, so those are all mapped to ProviderTimeout. The SDK is imported on first
use.
"""

from __future__ import annotations

import sys
from typing import Any

from ml.llm.base import ProviderError, ProviderTimeout
from ml.llm.defaults import DEFAULT_GEMINI_MODEL
from ml.llm.provider import Completion, LlmProvider, status_error

__all__ = ["DEFAULT_GEMINI_MODEL", "GeminiProvider"]


class GeminiProvider(LlmProvider):
    """Analyzer backed by the Gemini API (Google AI Studio key, not Vertex AI)."""

    default_model = DEFAULT_GEMINI_MODEL
    name = "gemini"

    def __init__(self, *args: Any, thinking_budget: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # 0 turns thinking off on 2.5 Flash (faster, cheaper)
        self.thinking_budget = thinking_budget

    def _sdk(self) -> Any:
        if self._client is None:
            from google import genai
            from google.genai import types

            options = types.HttpOptions(
                timeout=int(self.timeout_s * 1000), base_url=self.base_url,
                httpx_async_client=self.http_client,
            )
            self._client = genai.Client(api_key=self.api_key, vertexai=False, http_options=options)
        return self._client

    async def _complete(self, system: str, prompt: str) -> Completion:
        from google.genai import types

        config = types.GenerateContentConfig(
            system_instruction=system,
            response_mime_type="application/json",
            max_output_tokens=self.max_output_tokens,
            thinking_config=(
                types.ThinkingConfig(thinking_budget=self.thinking_budget)
                if self.thinking_budget is not None else None
            ),
        )
        response = await self._sdk().aio.models.generate_content(
            model=self.model, contents=prompt, config=config,
        )
        usage = response.usage_metadata
        output_tokens = None
        if usage is not None and usage.candidates_token_count is not None:
            # Thinking tokens are billed as output.
            output_tokens = usage.candidates_token_count + (usage.thoughts_token_count or 0)
        return Completion(
            text=response.text,
            input_tokens=usage.prompt_token_count if usage else None,
            output_tokens=output_tokens,
        )

    def _classify(self, exc: Exception) -> ProviderError | None:
        from google.genai import errors

        if isinstance(exc, errors.APIError):
            headers = getattr(getattr(exc, "response", None), "headers", None)
            return status_error(self.name, exc.code, str(exc), headers)
        if _is_timeout(exc):
            return ProviderTimeout(f"{type(exc).__name__}: {exc}", provider=self.name)
        return None

    async def _close_client(self, client: Any) -> None:
        await client.aio.aclose()


def _is_timeout(exc: Exception) -> bool:
    """httpx2, httpx and aiohttp timeouts, whichever HTTP stack google-genai picked."""
    import httpx2

    if isinstance(exc, httpx2.TimeoutException):
        return True
    for module_name, class_name in (("httpx", "TimeoutException"), ("aiohttp", "ServerTimeoutError")):
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module is not None else None
        if cls is not None and isinstance(exc, cls):
            return True
    return False
