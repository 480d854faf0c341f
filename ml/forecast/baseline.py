"""BG/NBD (Fader, Hardie & Lee 2005) + Gamma-Gamma spend, fitted by maximum likelihood with scipy.

The classic buy-till-you-die anchor, written out here rather than imported from `lifetimes` (unmaintained, and
it pins an autograd stack), so `crm forecast` needs nothing beyond scipy. Times are in days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

_LOG_BOUNDS = (-9.0, 9.0)  # keeps degenerate inputs (no repeat buyers at all) finite
# A weak Gaussian prior on the log-parameters, worth about this many customers: negligible on real logs
# (thousands of customers), but it keeps a shop with ten customers from a degenerate fit (no dropout at all).
PRIOR_CUSTOMERS = 2.0


@dataclass(frozen=True)
class BgNbd:
    """Fitted BG/NBD: purchase rate λ ~ Gamma(r, α); after each purchase, dropout with p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    @classmethod
    def fit(cls, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> BgNbd:
        """Maximum likelihood over the distinct (x, t_x, T) triples, weighted by how many customers share each."""
        triples = pd.DataFrame({"x": frequency, "t": recency, "T": T}).value_counts().reset_index()
        x, t, big_t, w = (triples[c].to_numpy(dtype=float) for c in ("x", "t", "T", "count"))
        scale = max(float(np.average(big_t, weights=w)), 1.0)

        prior = np.array([np.log(0.5), np.log(scale / 4), 0.0, np.log(2.0)])  # r, alpha, a, b

        def nll(theta: np.ndarray) -> float:
            penalty = PRIOR_CUSTOMERS * float(np.sum((theta - prior) ** 2)) / 2
            return (penalty - float(np.dot(w, _bgnbd_loglik(np.exp(theta), x, t, big_t)))) / w.sum()

        best = None
        for start in ([0.0, np.log(scale), 0.0, 0.0], [np.log(0.3), np.log(scale / 4), np.log(0.8), np.log(2.5)]):
            res = minimize(nll, np.array(start), method="L-BFGS-B", bounds=[_LOG_BOUNDS] * 4)
            if best is None or res.fun < best.fun:
                best = res
        r, alpha, a, b = np.exp(best.x)
        if abs(a - 1.0) < 1e-6:  # the conditional expectation has a removable singularity at a = 1
            a += 1e-6
        return cls(float(r), float(alpha), float(a), float(b))

    def _dropout_odds(self, x: np.ndarray, t: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        """Odds that a customer with x > 0 has already dropped out, versus being alive (0 when x = 0)."""
        log_odds = (np.log(self.a) - np.log(np.maximum(self.b + x - 1, 1e-12))
                    + (self.r + x) * (np.log(self.alpha + big_t) - np.log(self.alpha + t)))
        return np.where(x > 0, np.exp(np.minimum(log_odds, 700.0)), 0.0)

    def p_alive(self, x: np.ndarray, t: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + self._dropout_odds(x, t, big_t))

    def expected_purchases(self, x: np.ndarray, t: np.ndarray, big_t: np.ndarray, horizon: float) -> np.ndarray:
        """E[purchase days in (T, T + horizon]] given the history (FHL 2005, eq. 10)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = horizon / (alpha + big_t + horizon)
        log_ratio = (r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + horizon))
        with np.errstate(over="ignore", invalid="ignore"):
            term = 1.0 - np.exp(log_ratio) * hyp2f1(r + x, b + x, a + b + x - 1, z)
            value = (a + b + x - 1) / (a - 1) * term / (1.0 + self._dropout_odds(x, t, big_t))
        fallback = self.p_alive(x, t, big_t) * (r + x) / (alpha + big_t) * horizon  # no-dropout upper bound
        ok = np.isfinite(value) & (value >= 0)
        return np.where(ok, np.minimum(value, fallback), fallback)

    def p_purchase(self, x: np.ndarray, t: np.ndarray, big_t: np.ndarray, horizon: float) -> np.ndarray:
        """P(at least one purchase in (T, T + horizon]): alive, and the posterior λ ~ Gamma(r + x, α + T) fires."""
        none_if_alive = np.exp((self.r + x) * (np.log(self.alpha + big_t) - np.log(self.alpha + big_t + horizon)))
        return self.p_alive(x, t, big_t) * (1.0 - none_if_alive)


def _bgnbd_loglik(params: np.ndarray, x: np.ndarray, t: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params
    common = (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
              - (r + x) * np.log(alpha + big_t))
    log_odds = (np.log(a) - np.log(np.maximum(b + x - 1, 1e-12))
                + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t)))
    return common + np.where(x > 0, np.logaddexp(0.0, log_odds), 0.0)


@dataclass(frozen=True)
class GammaGamma:
    """Spend per purchase ~ Gamma(p, ν) with ν ~ Gamma(q, γ) across customers; fitted on repeat buyers."""

    p: float
    q: float
    v: float

    @classmethod
    def fit(cls, frequency: np.ndarray, monetary: np.ndarray, typical_spend: float = 1.0) -> GammaGamma:
        """`typical_spend`: the mean first purchase, used when there are too few repeat buyers to say more (a young
        shop: without it every purchase would be worth 1)."""
        keep = (frequency > 0) & (monetary > 0)
        x, m = frequency[keep].astype(float), monetary[keep].astype(float)
        if len(x) < 3:  # too few repeat buyers to fit: a flat prior around the observed mean spend
            mean = float(m.mean()) if len(m) else typical_spend
            return cls(p=1.0, q=2.0, v=mean)

        start = np.array([0.0, 0.0, np.log(float(np.mean(m)))])  # also the prior's centre: p = 1, q = 2

        def nll(theta: np.ndarray) -> float:
            p, q, v = np.exp(theta[0]), 1.0 + np.exp(theta[1]), np.exp(theta[2])  # q > 1: a finite mean spend
            ll = (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v) + (p * x - 1) * np.log(m)
                  + p * x * np.log(x) - (p * x + q) * np.log(x * m + v))
            penalty = PRIOR_CUSTOMERS * float(np.sum((theta - start) ** 2)) / 2
            return (penalty - float(ll.sum())) / len(x)

        res = minimize(nll, start, method="L-BFGS-B", bounds=[_LOG_BOUNDS, _LOG_BOUNDS, (-9.0, 20.0)])
        return cls(p=float(np.exp(res.x[0])), q=float(1.0 + np.exp(res.x[1])), v=float(np.exp(res.x[2])))

    def expected_spend(self, frequency: np.ndarray, monetary: np.ndarray) -> np.ndarray:
        """E[spend per purchase] shrunk from the customer's own repeat mean toward the population's."""
        x = np.asarray(frequency, dtype=float)
        m = np.where(x > 0, np.asarray(monetary, dtype=float), 0.0)
        return self.p * (self.v + x * m) / (self.p * x + self.q - 1.0)


@dataclass(frozen=True)
class Baseline:
    bgnbd: BgNbd
    gamma_gamma: GammaGamma

    @classmethod
    def fit(cls, summary: pd.DataFrame) -> Baseline:
        """Fits both models on an `rfm_summary` frame."""
        f, t, big_t = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        first = summary["first_amount"].to_numpy(dtype=float)
        typical = float(first[first > 0].mean()) if (first > 0).any() else 1.0
        return cls(BgNbd.fit(f, t, big_t), GammaGamma.fit(f, summary["monetary_value"].to_numpy(dtype=float),
                                                          typical_spend=typical))

    def predict(self, summary: pd.DataFrame, horizon: float) -> pd.DataFrame:
        """``expected_purchases, expected_revenue, p_purchase, p_alive, expected_spend`` per customer."""
        f, t, big_t = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        purchases = self.bgnbd.expected_purchases(f, t, big_t, horizon)
        spend = self.gamma_gamma.expected_spend(f, summary["monetary_value"].to_numpy(dtype=float))
        return pd.DataFrame({
            "expected_purchases": purchases,
            "expected_revenue": purchases * spend,
            "p_purchase": np.clip(self.bgnbd.p_purchase(f, t, big_t, horizon), 0.0, 1.0),
            "p_alive": self.bgnbd.p_alive(f, t, big_t),
            "expected_spend": spend,
        }, index=summary.index)
