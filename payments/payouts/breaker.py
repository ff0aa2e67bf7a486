"""The circuit breaker in front of Stripe, shared by every worker through Redis.

CLOSED: calls go through; consecutive transient failures are counted and any definitive answer
resets the count. After PAYOUT_BREAKER_FAILURES of them it OPENS: no calls until the cool-down
(PAYOUT_BREAKER_COOLDOWN_S) has passed. Then it is HALF-OPEN: exactly one caller gets a trial
call; a definitive answer closes the breaker, a transient failure opens it for another cool-down.
Each step is one Lua script, so workers in several processes agree. Times are wall-clock seconds
passed in by the caller (so frozen clocks in tests move the breaker too).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from enum import StrEnum

import redis
from django.conf import settings

PREFIX = "tote:payouts:breaker:"

_ALLOW = """
local open_until = redis.call('GET', KEYS[2])
if not open_until then return 1 end
if tonumber(ARGV[1]) < tonumber(open_until) then return 0 end
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[2]) then return 2 end
return 0
"""

_FAILURE = """
local n = redis.call('INCR', KEYS[1])
local open_until = redis.call('GET', KEYS[2])
if open_until then
  if ARGV[3] == '1' then
    redis.call('SET', KEYS[2], tostring(tonumber(ARGV[1]) + tonumber(ARGV[2])))
    redis.call('DEL', KEYS[3])
    return 2
  end
  return 0
end
if n >= tonumber(ARGV[4]) then
  redis.call('SET', KEYS[2], tostring(tonumber(ARGV[1]) + tonumber(ARGV[2])))
  return 1
end
return 0
"""


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Permit(StrEnum):
    DENIED = "denied"
    CALL = "call"
    TRIAL = "trial"


@dataclass(frozen=True)
class BreakerStatus:
    state: BreakerState
    consecutive_failures: int
    open_until: float | None


@functools.lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


class CircuitBreaker:
    def __init__(self, name: str = "stripe") -> None:
        self.keys = [f"{PREFIX}{name}:failures", f"{PREFIX}{name}:open_until", f"{PREFIX}{name}:trial"]

    @property
    def _client(self) -> redis.Redis:
        return _redis(settings.REDIS_URL)

    def allow(self, *, now: float | None = None) -> Permit:
        # A trial that never reports back (a crashed worker) frees its slot after this long.
        trial_ms = int(max(settings.STRIPE_TIMEOUT_S * 3, 30) * 1000)
        answer = self._client.eval(_ALLOW, 3, *self.keys, _now(now), trial_ms)
        return {0: Permit.DENIED, 1: Permit.CALL, 2: Permit.TRIAL}[int(answer)]

    def record_success(self) -> None:
        self._client.delete(*self.keys)

    def record_failure(self, *, trial: bool, now: float | None = None) -> bool:
        """Count a transient failure; True when this failure opened (or re-opened) the breaker."""
        answer = self._client.eval(
            _FAILURE,
            3,
            *self.keys,
            _now(now),
            settings.PAYOUT_BREAKER_COOLDOWN_S,
            "1" if trial else "0",
            settings.PAYOUT_BREAKER_FAILURES,
        )
        return int(answer) > 0

    def status(self, *, now: float | None = None) -> BreakerStatus:
        failures, open_until = self._client.mget(self.keys[0], self.keys[1])
        until = float(open_until) if open_until is not None else None
        if until is None:
            state = BreakerState.CLOSED
        elif float(_now(now)) < until:
            state = BreakerState.OPEN
        else:
            state = BreakerState.HALF_OPEN
        return BreakerStatus(state, int(failures or 0), until)

    def reset(self) -> None:
        self.record_success()


def _now(now: float | None) -> str:
    return repr(time.time() if now is None else now)


breaker = CircuitBreaker()
