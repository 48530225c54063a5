"""Fault injection of the national database simulator: what to break, and when.

A :class:`FaultConfig` is the JSON of ``GET``/``PUT /admin/faults`` and of the
``HOCBA_NATIONAL_SIM_FAULTS`` variable. Every key is optional (absent: that fault is off)
and an unknown key is refused::

    {"error_rate": 0.1, "timeout_rate": 0.02, "timeout_seconds": 30,
     "latency_ms": [5, 50], "rate_limit": {"every": 100, "burst": 5, "retry_after_seconds": 1},
     "token_ttl_seconds": 3600, "lost_ack_rate": 0.05, "seed": 7}

:class:`FaultInjector` takes the decisions, all from one random generator seeded with
``seed`` (the same requests in the same order meet the same faults):

* latency — every request of the national API (the token endpoint included) first waits a
  uniform ``latency_ms`` = ``[min, max]`` milliseconds;
* outage — every request of the national API is answered 503 until it ends
  (``POST /admin/outage``);
* rate limit — of every ``every`` requests to ``/v1/``, the last ``burst`` are answered 429
  with ``Retry-After: retry_after_seconds``;
* each PUT draws once: ``error_rate`` of them are answered 500, 502 or 503 before anything is
  stored, ``timeout_rate`` hang ``timeout_seconds`` and are answered 504 (nothing stored),
  ``lost_ack_rate`` are stored and answered 503 — the acknowledgement is lost; this one
  applies only to a PUT that stores its version anew, so the retry gets 200. The three rates
  add up to at most 1.

``token_ttl_seconds`` is the lifetime of the tokens issued from then on.
"""

from __future__ import annotations

import dataclasses
import enum
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["FaultConfig", "FaultConfigError", "FaultInjector", "PutFault", "RateLimit"]

_MAX_TIMEOUT_S: Final = 300.0
_MAX_LATENCY_MS: Final = 60_000.0
_MAX_TOKEN_TTL_S: Final = 30 * 86_400
_MAX_RETRY_AFTER_S: Final = 3_600
_ERROR_STATUSES: Final = (500, 502, 503)


class FaultConfigError(ValueError):
    """A fault configuration the simulator refuses; the message names the key and why."""


class PutFault(enum.Enum):
    """What one PUT's draw decided (the value is the ``kind`` label of the fault metric)."""

    NONE = "none"
    ERROR = "error"
    TIMEOUT = "timeout"
    LOST_ACK = "lost_ack"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Of every ``every`` requests, the last ``burst`` are refused with 429."""

    every: int
    burst: int
    retry_after_seconds: int = 1

    def refuses(self, number: int) -> bool:
        """True when request ``number`` (counted from 1) falls in a refused burst."""
        return (number - 1) % self.every >= self.every - self.burst


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Which faults the simulator injects (the module docstring says how each works)."""

    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    latency_ms: tuple[float, float] = (0.0, 0.0)
    rate_limit: RateLimit | None = None
    token_ttl_seconds: int = 3600
    lost_ack_rate: float = 0.0
    seed: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> FaultConfig:
        """Check a JSON value; raise :class:`FaultConfigError` on anything unusable."""
        if not isinstance(data, dict):
            raise FaultConfigError("the fault configuration must be a JSON object")
        _refuse_unknown(data, _KEYS, "")
        rates = {name: _number(data, name, 0.0, 0.0, 1.0) for name in _RATES}
        if sum(rates.values()) > 1.0:
            raise FaultConfigError(
                "error_rate + timeout_rate + lost_ack_rate must not exceed 1 "
                "(each PUT draws one of them at most)"
            )
        seed = data.get("seed")
        if seed is not None and not _is_int(seed):
            raise FaultConfigError("seed must be a whole number or null")
        return cls(
            timeout_seconds=_number(
                data, "timeout_seconds", 30.0, 0.0, _MAX_TIMEOUT_S, open_low=True
            ),
            latency_ms=_latency(data.get("latency_ms", [0, 0])),
            rate_limit=_rate_limit(data.get("rate_limit")),
            token_ttl_seconds=_integer(data, "token_ttl_seconds", 3600, 1, _MAX_TOKEN_TTL_S),
            seed=seed,
            **rates,
        )

    def as_json(self) -> dict[str, Any]:
        """The configuration as ``GET /admin/faults`` shows it (every key present)."""
        return {
            "error_rate": self.error_rate,
            "timeout_rate": self.timeout_rate,
            "timeout_seconds": self.timeout_seconds,
            "latency_ms": list(self.latency_ms),
            "rate_limit": None if self.rate_limit is None else dataclasses.asdict(self.rate_limit),
            "token_ttl_seconds": self.token_ttl_seconds,
            "lost_ack_rate": self.lost_ack_rate,
            "seed": self.seed,
        }


_KEYS: Final = frozenset(field.name for field in dataclasses.fields(FaultConfig))
_RATES: Final = ("error_rate", "timeout_rate", "lost_ack_rate")
_RATE_LIMIT_KEYS: Final = frozenset(field.name for field in dataclasses.fields(RateLimit))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _refuse_unknown(data: Mapping[str, Any], known: frozenset[str], prefix: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise FaultConfigError(
            f"unknown key(s) {', '.join(prefix + k for k in unknown)}; "
            f"known: {', '.join(prefix + k for k in sorted(known))}"
        )


def _number(
    data: Mapping[str, Any],
    name: str,
    default: float,
    low: float,
    high: float,
    *,
    open_low: bool = False,
) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultConfigError(f"{name} must be a number")
    if not (low < value <= high if open_low else low <= value <= high):
        bounds = f"{'(' if open_low else '['}{low:g}, {high:g}]"
        raise FaultConfigError(f"{name}={value!r} is outside {bounds}")
    return float(value)


def _integer(data: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = data.get(name, default)
    if not _is_int(value) or not low <= value <= high:
        raise FaultConfigError(f"{name} must be a whole number in [{low}, {high}]")
    return int(value)


def _latency(value: Any) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise FaultConfigError("latency_ms must be a list [min, max] of milliseconds")
    low = _number({"latency_ms[0]": value[0]}, "latency_ms[0]", 0.0, 0.0, _MAX_LATENCY_MS)
    high = _number({"latency_ms[1]": value[1]}, "latency_ms[1]", 0.0, low, _MAX_LATENCY_MS)
    return (low, high)


def _rate_limit(value: Any) -> RateLimit | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FaultConfigError("rate_limit must be null or an object {every, burst, ...}")
    _refuse_unknown(value, _RATE_LIMIT_KEYS, "rate_limit.")
    if "every" not in value or "burst" not in value:
        raise FaultConfigError("rate_limit needs both every and burst")
    every = _integer(value, "every", 0, 1, 1_000_000)
    return RateLimit(
        every=every,
        burst=_integer(value, "burst", 0, 1, every),
        retry_after_seconds=_integer(value, "retry_after_seconds", 1, 0, _MAX_RETRY_AFTER_S),
    )


class FaultInjector:
    """The fault decisions, from one seeded random generator and an injectable clock.

    ``clock`` is monotonic seconds (``time.monotonic`` by default; tests pass their own).
    Single event loop: every method runs without awaiting, so decisions never interleave.
    """

    def __init__(self, config: FaultConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._outage_until = clock()
        self.configure(config)

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Apply a new configuration: re-seed the generator, restart the rate-limit count."""
        self._config = config
        self._rng = random.Random(config.seed)
        self._limited = 0

    def latency_seconds(self) -> float:
        """How long this request waits before it is handled (0 when no latency is set)."""
        low, high = self._config.latency_ms
        return 0.0 if high <= 0 else self._rng.uniform(low, high) / 1000

    def start_outage(self, seconds: float) -> None:
        """Answer 503 to every national request for ``seconds`` from now (0 ends it)."""
        self._outage_until = self._clock() + seconds

    def outage_remaining(self) -> float:
        """Seconds the current outage still lasts (0 when there is none)."""
        return max(0.0, self._outage_until - self._clock())

    def rate_limited(self) -> int | None:
        """Count one ``/v1/`` request; the 429's Retry-After seconds when it is refused."""
        limit = self._config.rate_limit
        if limit is None:
            return None
        self._limited += 1
        return limit.retry_after_seconds if limit.refuses(self._limited) else None

    def draw_put(self) -> PutFault:
        """One draw per PUT: which of error, timeout or lost acknowledgement, if any."""
        config = self._config
        if config.error_rate + config.timeout_rate + config.lost_ack_rate <= 0:
            return PutFault.NONE
        draw = self._rng.random()
        for fault, rate in (
            (PutFault.ERROR, config.error_rate),
            (PutFault.TIMEOUT, config.timeout_rate),
            (PutFault.LOST_ACK, config.lost_ack_rate),
        ):
            if draw < rate:
                return fault
            draw -= rate
        return PutFault.NONE

    def error_status(self) -> int:
        """The status of an injected server error: 500, 502 or 503."""
        return self._rng.choice(_ERROR_STATUSES)
