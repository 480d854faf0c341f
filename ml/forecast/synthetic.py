"""Transaction logs drawn from a known buy-till-you-die process, for tests and benchmarks with a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_log(customers: int = 3000, days: int = 540, join_days: int = 90, seed: int = 0,
                 r: float = 0.5, alpha: float = 20.0, a: float = 0.8, b: float = 2.5,
                 spend_p: float = 6.0, spend_q: float = 4.0, spend_v: float = 15.0,
                 start: str = "2024-01-01") -> pd.DataFrame:
    """A BG/NBD + Gamma-Gamma log: ``customer_id, date, amount``, one row per purchase.

    Customers join uniformly over the first ``join_days`` with one purchase; then they buy at a Gamma(r, alpha)
    daily rate and, after each repeat purchase, drop out with a Beta(a, b) probability. Spend per purchase is
    Gamma(spend_p, nu) with nu ~ Gamma(spend_q, spend_v) per customer. Same seed, same log.
    """
    rng = np.random.default_rng(seed)
    birth = rng.integers(0, join_days, size=customers).astype(float)
    rate = rng.gamma(r, 1.0 / alpha, size=customers)
    dropout = rng.beta(a, b, size=customers)
    nu = rng.gamma(spend_q, 1.0 / spend_v, size=customers)
    ids: list[np.ndarray] = []
    times: list[np.ndarray] = []
    for i in range(customers):
        repeats = int(rng.geometric(dropout[i]))  # dies right after its `repeats`-th repeat purchase
        gaps = rng.exponential(1.0 / max(rate[i], 1e-9), size=repeats)
        at = birth[i] + np.concatenate([[0.0], np.cumsum(gaps)])
        at = at[at < days]
        ids.append(np.full(len(at), i))
        times.append(at)
    who = np.concatenate(ids)
    when = np.concatenate(times)
    amount = rng.gamma(spend_p, 1.0 / nu[who])
    return pd.DataFrame({
        "customer_id": pd.Series(who).map(lambda k: f"c{k:05d}").to_numpy(),
        "date": pd.Timestamp(start) + pd.to_timedelta(np.floor(when), unit="D"),
        "amount": np.round(amount, 2),
    })


def simulate_rhythmic_log(customers: int = 3000, days: int = 540, join_days: int = 90, seed: int = 0,
                          start: str = "2024-01-01") -> pd.DataFrame:
    """Customers who buy on a rhythm (every 14, 30, 60 or 90 days, +-10 %) and stop after a geometric number of
    purchases (mean ~12): regular, not the memoryless buying BG/NBD assumes. Spend ~ Gamma(5, 6) per purchase."""
    rng = np.random.default_rng(seed)
    who: list[int] = []
    when: list[int] = []
    for i in range(customers):
        t, gap = float(rng.integers(0, join_days)), float(rng.choice([14, 30, 60, 90]))
        stop = int(rng.geometric(0.08))
        for _ in range(stop + 1):
            if t >= days:
                break
            who.append(i)
            when.append(int(t))
            t += gap * rng.uniform(0.9, 1.1)
    return pd.DataFrame({
        "customer_id": [f"r{k:05d}" for k in who],
        "date": pd.Timestamp(start) + pd.to_timedelta(np.array(when), unit="D"),
        "amount": np.round(rng.gamma(5.0, 6.0, size=len(who)), 2),
    })
