"""OpenAI adapter: Chat Completions in JSON mode (`response_format={"type": "json_object"}`).

Chat Completions is stable in the installed SDK and JSON mode accepts our schemas as they are (strict
json_schema mode would reject the free-form `dict` fields); the pydantic validation after it is the real
check.
The SDK is imported on first use so the API process does not pay for it unless a key is configured and used.
"""

from __future__ import annotations

from typing import Any

from ml.llm.base import ProviderError, ProviderTimeout
from ml.llm.defaults import DEFAULT_OPENAI_MODEL
from ml.llm.provider import Completion, LlmProvider, status_error

__all__ = ["DEFAULT_OPENAI_MODEL", "OpenAIProvider"]


class OpenAIProvider(LlmProvider):
    """Analyzer backed by the OpenAI API."""

    default_model = DEFAULT_OPENAI_MODEL
    name = "openai"

    def __init__(self, *args: Any, reasoning_effort: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # e.g. "minimal" / "low" for gpt-5 models (faster); None leaves the model's default.
        self.reasoning_effort = reasoning_effort

    def _sdk(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.AsyncOpenAI(
                api_key=self.api_key, base_url=self.base_url, timeout=self.timeout_s, max_retries=0,
                http_client=self.http_client,
            )
        return self._client

    async def _complete(self, system: str, prompt: str) -> Completion:
        extra: dict[str, Any] = {}
        if self.reasoning_effort is not None:
            extra["reasoning_effort"] = self.reasoning_effort
        response = await self._sdk().chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            response_format={"type": "json_object"},
            max_completion_tokens=self.max_output_tokens,
            **extra,
        )
        text = response.choices[0].message.content if response.choices else None
        usage = response.usage
        return Completion(
            text=text,
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None,
        )

    def _classify(self, exc: Exception) -> ProviderError | None:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return ProviderTimeout(str(exc), provider=self.name)
        if isinstance(exc, openai.APIStatusError):
            return status_error(self.name, exc.status_code, str(exc), exc.response.headers)
        return None
