"""What every LLM adapter shares: prompt, timeout, retries with backoff, validation and one repair attempt.

An adapter only says how to send one (system, prompt) pair through its SDK and how to translate the SDK's
exceptions; this class turns that into the Analyzer protocol. The SDKs' own retries are switched off (adapters
pass max_retries=0) so the three providers retry, back off and fail the same way, and tests can set the
backoff to zero instead of sleeping.

Every request goes through `_call`, the one place where text leaves for a provider: the system prompt and
the user prompt are redacted there (ml.llm.redaction: phones, emails, card numbers and addresses become
`[PHONE_1]`-style placeholders, one mapping per request) and the answer's placeholders are restored before
anyone reads it, so no task (intent, sentiment, lead, reply, repair, captions) and no adapter can send a
customer's contact details.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ml.llm import prompts, redaction
from ml.llm.base import (
    ProviderError,
    ProviderInvalidOutput,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
    Reply,
    Task,
)
from ml.llm.defaults import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S
from ml.llm.parsing import OutputError, extract_json, parse_result
from ml.llm.pricing import estimate_cost
from ml.nlu.types import IntentResult, LeadScore, SentimentResult


@dataclass
class Completion:
    """The raw text of one API call and the tokens it was billed for."""

    text: str | None
    input_tokens: int | None = None
    output_tokens: int | None = None


class LlmProvider(ABC):
    """Base of the OpenAI, Anthropic and Gemini adapters (implements Analyzer and ReportingAnalyzer)."""

    name: ClassVar[str] = "llm"

    default_model: str = ""  # each adapter names its own
    redaction_region: str = redaction.DEFAULT_REGION  # national phone numbers are read as this country's

    def __init__(
        self,
        api_key: str,
        model: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: Any | None = None,
        *,
        backoff_base_s: float = 0.5,
        max_backoff_s: float = 8.0,
        max_output_tokens: int = 4096,
        base_url: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.model = model or self.default_model
        self.timeout_s = timeout_s
        self.max_retries = max(0, max_retries)
        self.http_client = http_client
        self.backoff_base_s = backoff_base_s
        self.max_backoff_s = max_backoff_s
        self.max_output_tokens = max_output_tokens
        self.base_url = base_url
        self._client: Any | None = None

    # --- Analyzer protocol ----------------------------------------------------------------------------------
    async def detect_intent(self, text: str, context: dict | None = None) -> IntentResult:
        return (await self.run_task("intent", text, context)).result

    async def analyze_sentiment(self, text: str, context: dict | None = None) -> SentimentResult:
        return (await self.run_task("sentiment", text, context)).result

    async def classify_lead(self, text: str, context: dict | None = None) -> LeadScore:
        return (await self.run_task("lead", text, context)).result

    # --- the shared flow ------------------------------------------------------------------------------------
    async def run_task(self, task: Task, text: str, context: dict | None = None) -> Reply[Any]:
        """Ask, validate, repair once if needed; tokens of every call (the repair too) are summed."""
        system = prompts.load(prompts.SYSTEM)
        prompt = prompts.task_prompt(task, text, context)
        tokens: list[Completion] = []
        try:
            completion = await self._call(system, prompt)
            tokens.append(completion)
            try:
                result = parse_result(task, completion.text)
            except OutputError as first:
                repair = prompts.repair_prompt(prompt, completion.text or "", str(first))
                completion = await self._call(system, repair)
                tokens.append(completion)
                try:
                    result = parse_result(task, completion.text)
                except OutputError as second:
                    raise ProviderInvalidOutput(
                        f"invalid output after repair: {second}", provider=self.name,
                    ) from second
        except ProviderError as exc:
            exc.input_tokens, exc.output_tokens, exc.estimated_cost_usd = self._usage(tokens)
            raise
        input_tokens, output_tokens, cost = self._usage(tokens)
        return Reply(result=result, model=self.model, input_tokens=input_tokens, output_tokens=output_tokens,
                     estimated_cost_usd=cost)

    async def complete_json(self, system: str, prompt: str) -> Reply[dict[str, Any]]:
        """One free-form JSON object (no schema, no repair): for callers that validate the content themselves
        and decide whether to ask again, such as the agent's reply writer and its fact check."""
        completion = await self._call(system, prompt)
        usage = self._usage([completion])
        try:
            data = extract_json(completion.text)
            # These answers are read by people (replies, captions): a placeholder standing for nothing the
            # request held (one the model made up) must never reach them.
            if invented := redaction.leftover_placeholders(json.dumps(data, ensure_ascii=False)):
                raise OutputError("the answer holds placeholders that stand for nothing: "
                                  + ", ".join(invented))
        except OutputError as exc:
            error = ProviderInvalidOutput(str(exc), provider=self.name)
            error.input_tokens, error.output_tokens, error.estimated_cost_usd = usage
            raise error from exc
        input_tokens, output_tokens, cost = usage
        return Reply(result=data, model=self.model, input_tokens=input_tokens, output_tokens=output_tokens,
                     estimated_cost_usd=cost)

    def _usage(self, calls: list[Completion]) -> tuple[int | None, int | None, float | None]:
        if not calls or any(c.input_tokens is None or c.output_tokens is None for c in calls):
            return None, None, None
        input_tokens = sum(c.input_tokens or 0 for c in calls)
        output_tokens = sum(c.output_tokens or 0 for c in calls)
        return input_tokens, output_tokens, estimate_cost(self.model, input_tokens, output_tokens)

    async def _call(self, system: str, prompt: str) -> Completion:
        """One logical call with the contact details redacted on the way out and restored on the way back (the
        answer is JSON, so restored values are escaped as JSON string content)."""
        (system, prompt), mapping = redaction.redact_all((system, prompt), region=self.redaction_region)
        if mapping:
            system = system.rstrip() + "\n\n" + redaction.placeholder_note(mapping)
        completion = await self._send(system, prompt)
        if mapping and completion.text:
            completion.text = redaction.restore(completion.text, mapping, escape=redaction.json_escape)
        return completion

    async def _send(self, system: str, prompt: str) -> Completion:
        """A hard deadline per attempt; 429 / 5xx retried with exponential backoff."""
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await self._complete(system, prompt)
            except ProviderError:
                raise
            except TimeoutError as exc:
                raise ProviderTimeout(f"no answer within {self.timeout_s:g} s", provider=self.name) from exc
            except Exception as exc:  # the SDK's exceptions, translated by the adapter
                error = self._translate(exc)
                if not error.retryable or attempt >= self.max_retries:
                    raise error from exc
            await asyncio.sleep(self._backoff(attempt, error.retry_after_s))
            attempt += 1

    def _backoff(self, attempt: int, retry_after_s: float | None) -> float:
        """Retry-After when the server sent one, otherwise base * 2^attempt with jitter; capped either way."""
        if retry_after_s is not None:
            return min(self.max_backoff_s, max(0.0, retry_after_s))
        delay = self.backoff_base_s * (2 ** attempt) * random.uniform(0.5, 1.0)
        return min(self.max_backoff_s, delay)

    def _translate(self, exc: Exception) -> ProviderError:
        error = self._classify(exc)
        if error is None:
            error = ProviderError(f"{type(exc).__name__}: {exc}", provider=self.name)
        error.provider = self.name
        return error

    async def aclose(self) -> None:
        """Close the SDK client (and with it the HTTP connection pool) if one was created."""
        client, self._client = self._client, None
        if client is not None:
            await self._close_client(client)

    # --- what each adapter provides -------------------------------------------------------------------------
    @abstractmethod
    async def _complete(self, system: str, prompt: str) -> Completion:
        """Send one request through the SDK (no retries) and return its text and token counts. Only `_call`
        calls this, with the text already redacted."""

    @abstractmethod
    def _classify(self, exc: Exception) -> ProviderError | None:
        """Map an SDK exception to a ProviderError subclass, or None for "other error"."""

    async def _close_client(self, client: Any) -> None:
        await client.close()


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms, retry-after as seconds or an HTTP date)."""
    if not headers:
        return None
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return float(ms) / 1000.0
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            return max(0.0, parsed.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def status_error(
    provider: str, status: int | None, message: str, headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """The ProviderError subclass for an HTTP status: 429 rate limited, 5xx (and 529) server error."""
    retry_after = retry_after_seconds(headers)
    if status == 429:
        return ProviderRateLimited(message, provider=provider, status_code=status, retry_after_s=retry_after)
    if status is not None and status >= 500:
        return ProviderServerError(message, provider=provider, status_code=status, retry_after_s=retry_after)
    if status == 408:
        return ProviderTimeout(message, provider=provider, status_code=status)
    return ProviderError(message, provider=provider, status_code=status)
