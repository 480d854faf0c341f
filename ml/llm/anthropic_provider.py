"""Anthropic adapter: the Messages API, asked for JSON only; the first text block is the answer.

No assistant prefill: recent Claude models reject a prefilled last turn, and the system instruction plus the
tolerant JSON extraction in ml.llm.parsing are enough. The SDK is imported on first use.
"""

from __future__ import annotations

from typing import Any

from ml.llm.base import ProviderError, ProviderTimeout
from ml.llm.defaults import DEFAULT_ANTHROPIC_MODEL
from ml.llm.provider import Completion, LlmProvider, status_error

__all__ = ["DEFAULT_ANTHROPIC_MODEL", "AnthropicProvider"]


class AnthropicProvider(LlmProvider):
    """Analyzer backed by the Anthropic API."""

    default_model = DEFAULT_ANTHROPIC_MODEL
    name = "anthropic"

    def _sdk(self) -> Any:
        if self._client is None:
            import anthropic

            self._client = anthropic.AsyncAnthropic(
                api_key=self.api_key, base_url=self.base_url, timeout=self.timeout_s, max_retries=0,
                http_client=self.http_client,
            )
        return self._client

    async def _complete(self, system: str, prompt: str) -> Completion:
        message = await self._sdk().messages.create(
            model=self.model,
            max_tokens=self.max_output_tokens,
            system=system,
            messages=[{"role": "user", "content": prompt}],
        )
        text = next((block.text for block in message.content if getattr(block, "type", None) == "text"), None)
        usage = message.usage
        return Completion(
            text=text,
            input_tokens=usage.input_tokens if usage else None,
            output_tokens=usage.output_tokens if usage else None,
        )

    def _classify(self, exc: Exception) -> ProviderError | None:
        import anthropic

        if isinstance(exc, anthropic.APITimeoutError):
            return ProviderTimeout(str(exc), provider=self.name)
        if isinstance(exc, anthropic.APIStatusError):
            return status_error(self.name, exc.status_code, str(exc), exc.response.headers)
        return None
