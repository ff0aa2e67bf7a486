"""A Chainlink price feed read through web3 (`latestRoundData`, `decimals`).

The latest answer counts as the close of a trading day only when it can be one:
- `answer > 0` and `updatedAt != 0` (a round that completed with a price);
- `answeredInRound >= roundId` (not carried over from an older round);
- not older than the feed's heartbeat, and not from the future;
- set during that day's session, up to the close plus a tolerance (a feed that moved in
  after-hours trading no longer holds the close, and an older value is the previous day's).
So a feed answers for the latest session only; a reference close of an earlier day comes from
the previous round (or an operator).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
from django.utils import timezone
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, Web3Exception

from betting.rounds import nyse
from betting.rounds.oracles.base import OracleError, Quote

AGGREGATOR_V3_ABI: list[dict[str, Any]] = [
    {
        "inputs": [],
        "name": "decimals",
        "outputs": [{"internalType": "uint8", "name": "", "type": "uint8"}],
        "stateMutability": "view",
        "type": "function",
    },
    {
        "inputs": [],
        "name": "latestRoundData",
        "outputs": [
            {"internalType": "uint80", "name": "roundId", "type": "uint80"},
            {"internalType": "int256", "name": "answer", "type": "int256"},
            {"internalType": "uint256", "name": "startedAt", "type": "uint256"},
            {"internalType": "uint256", "name": "updatedAt", "type": "uint256"},
            {"internalType": "uint80", "name": "answeredInRound", "type": "uint80"},
        ],
        "stateMutability": "view",
        "type": "function",
    },
]
FUTURE_SKEW = timedelta(seconds=60)


class ChainlinkOracle:
    name = "chainlink"

    def __init__(self, *, w3: Web3, feed_address: str, heartbeat_s: int, close_tolerance_s: int) -> None:
        self.w3 = w3
        self.feed_address = feed_address
        self.heartbeat = timedelta(seconds=heartbeat_s)
        self.close_tolerance = timedelta(seconds=close_tolerance_s)

    @classmethod
    def from_settings(cls, config: Any) -> ChainlinkOracle:
        from web3.providers.rpc.utils import ExceptionRetryConfiguration

        provider = Web3.HTTPProvider(
            config.ROUNDS_CHAINLINK_RPC_URL,
            request_kwargs={"timeout": config.ROUNDS_CHAINLINK_TIMEOUT_S},
            exception_retry_configuration=ExceptionRetryConfiguration(
                errors=(requests.ConnectionError, requests.Timeout),
                retries=config.ROUNDS_CHAINLINK_RETRIES,
                backoff_factor=0.5,
                method_allowlist=["eth_call", "eth_chainId"],
            ),
        )
        return cls(
            w3=Web3(provider),
            feed_address=config.ROUNDS_CHAINLINK_FEED_ADDRESS,
            heartbeat_s=config.ROUNDS_CHAINLINK_HEARTBEAT_S,
            close_tolerance_s=config.ROUNDS_CHAINLINK_CLOSE_TOLERANCE_S,
        )

    def _read(self) -> tuple[int, tuple[int, int, int, int, int]]:
        if not Web3.is_address(self.feed_address):
            raise OracleError("misconfigured", f"No Chainlink feed address configured ({self.feed_address!r}).")
        feed = self.w3.eth.contract(address=Web3.to_checksum_address(self.feed_address), abi=AGGREGATOR_V3_ABI)
        try:
            decimals = int(feed.functions.decimals().call())
            round_data = tuple(int(v) for v in feed.functions.latestRoundData().call())
        except requests.Timeout as exc:
            raise OracleError("timeout", f"The chain node did not answer in time: {exc}") from exc
        except BadFunctionCallOutput as exc:
            raise OracleError("misconfigured", f"No aggregator at {self.feed_address}: {exc}") from exc
        except (requests.RequestException, Web3Exception, ValueError) as exc:
            raise OracleError("unavailable", f"Reading the feed failed: {type(exc).__name__}: {exc}") from exc
        return decimals, round_data  # type: ignore[return-value]

    def fetch_close(self, *, asset: str, session_date: date) -> Quote:
        times = nyse.round_times(session_date)
        now = timezone.now()
        if now < times.close_at:
            raise OracleError("not_available", f"The session of {session_date} has not closed yet.")
        decimals, (round_id, answer, started_at, updated_at, answered_in_round) = self._read()
        detail: dict[str, Any] = {
            "feed": self.feed_address,
            "decimals": decimals,
            "round_id": str(round_id),
            "answer": str(answer),
            "started_at": started_at,
            "updated_at": updated_at,
            "answered_in_round": str(answered_in_round),
        }
        if answer <= 0:
            raise OracleError("invalid", f"The feed answered {answer}, not a positive price.", detail)
        if updated_at == 0:
            raise OracleError("invalid", "The feed's latest round is incomplete (updatedAt is 0).", detail)
        if answered_in_round < round_id:
            raise OracleError("stale", "The answer was carried over from an earlier round.", detail)
        as_of = datetime.fromtimestamp(updated_at, tz=UTC)
        if as_of > now + FUTURE_SKEW:
            raise OracleError("invalid", f"The answer is dated {as_of.isoformat()}, in the future.", detail)
        if now - as_of > self.heartbeat:
            raise OracleError("stale", f"The answer of {as_of.isoformat()} is older than the feed's heartbeat.", detail)
        if as_of < times.open_at:
            raise OracleError("stale", f"The feed has not moved since before the session of {session_date}.", detail)
        if as_of > times.close_at + self.close_tolerance:
            raise OracleError(
                "unsupported",
                f"The feed moved after the close of {session_date}; its answer is not that close.",
                detail,
            )
        return Quote(price=Decimal(answer).scaleb(-decimals), as_of=as_of, detail=detail)
