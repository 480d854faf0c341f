"""Sending rates: Meta allows a business number about 80 messages/s (more once upgraded) and throttles bursts to
one recipient (error 131056). Token buckets per number and per recipient keep each worker process under its
share, so the queue slows down instead of collecting 130429 errors."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict


class TokenBucket:
    """`rate` tokens a second, holding at most `burst`; `acquire` waits for one."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, max(1.0, burst)
        self._tokens, self._stamp = self.burst, time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> float:
        """Take one token, sleeping until there is one; returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                delay = (1 - self._tokens) / self.rate
                await asyncio.sleep(delay)
                waited = delay
                self._refill()
            self._tokens -= 1
        return waited


class SendThrottle:
    """Buckets per business number and per recipient (the least recently used recipients are forgotten)."""

    MAX_RECIPIENTS = 10_000

    def __init__(self, per_number: float, per_recipient: float, recipient_burst: int, share: int = 1) -> None:
        self._per_number = per_number / max(1, share)
        self._per_recipient = per_recipient
        self._recipient_burst = recipient_burst
        self._numbers: dict[str, TokenBucket] = {}
        self._recipients: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()

    async def acquire(self, account: str, recipient: str) -> float:
        if self._per_number <= 0:
            return 0.0
        waited = 0.0
        if self._per_recipient > 0:
            waited += await self._recipient(account, recipient).acquire()
        number = self._numbers.setdefault(account, TokenBucket(self._per_number, self._per_number))
        return waited + await number.acquire()

    def _recipient(self, account: str, recipient: str) -> TokenBucket:
        key = (account, recipient)
        bucket = self._recipients.get(key)
        if bucket is None:
            bucket = self._recipients[key] = TokenBucket(self._per_recipient, self._recipient_burst)
            if len(self._recipients) > self.MAX_RECIPIENTS:
                self._recipients.popitem(last=False)
        else:
            self._recipients.move_to_end(key)
        return bucket
