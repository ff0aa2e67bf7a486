"""The Chainlink oracle reading a real AggregatorV3 contract on eth-tester's in-process EVM.

The contract (tests/fakes/chainlink/MockAggregatorV3.sol) is compiled offline with solc-js; its
artefact is committed. Round data is written before the test clock is frozen, so blocks keep
moving forward in time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from web3 import EthereumTesterProvider, Web3

from betting.rounds.oracles import OracleError
from betting.rounds.oracles.chainlink import ChainlinkOracle
from betting.rounds.services import manual_price_set, round_open
from betting.rounds.settlement import round_settle
from ledger.reconcile import reconcile
from tests.rounds.conftest import ny
from tests.rounds.helpers import bet, wallet

ARTEFACT = Path(__file__).resolve().parent.parent / "fakes" / "chainlink" / "MockAggregatorV3.json"
DAY = ny(2026, 3, 9).date()


class Feed:
    def __init__(self) -> None:
        artefact = json.loads(ARTEFACT.read_text())
        self.w3 = Web3(EthereumTesterProvider())
        self.owner = self.w3.eth.accounts[0]
        factory = self.w3.eth.contract(abi=artefact["abi"], bytecode=artefact["bytecode"])
        receipt = self.w3.eth.wait_for_transaction_receipt(
            factory.constructor(8, "QQQ / USD").transact({"from": self.owner})
        )
        self.address = receipt["contractAddress"]
        self.contract = self.w3.eth.contract(address=self.address, abi=artefact["abi"])

    def answer(
        self, price: str, updated_at: datetime, *, round_id: int = 7, answered_in_round: int | None = None
    ) -> None:
        answer = int(Decimal(price) * 10**8)
        ts = int(updated_at.timestamp())
        answered = round_id if answered_in_round is None else answered_in_round
        tx = self.contract.functions.setRoundData(round_id, answer, ts, ts, answered).transact({"from": self.owner})
        self.w3.eth.wait_for_transaction_receipt(tx)

    def raw(self, round_id: int, answer: int, updated_at: int, answered_in_round: int) -> None:
        tx = self.contract.functions.setRoundData(round_id, answer, updated_at, updated_at, answered_in_round).transact(
            {"from": self.owner}
        )
        self.w3.eth.wait_for_transaction_receipt(tx)

    def oracle(self, *, heartbeat_s: int = 3600, address: str | None = None) -> ChainlinkOracle:
        return ChainlinkOracle(
            w3=self.w3, feed_address=address or self.address, heartbeat_s=heartbeat_s, close_tolerance_s=300
        )


@pytest.fixture(scope="module")
def feed() -> Feed:
    return Feed()


def test_reads_latest_round_scaled_by_decimals(feed: Feed, clock: Callable[..., None]) -> None:
    feed.answer("612.34", ny(2026, 3, 9, 15, 59, 30))
    clock(ny(2026, 3, 9, 16, 5))
    quote = feed.oracle().fetch_close(asset="QQQ", session_date=DAY)
    assert quote.price == Decimal("612.34")
    assert quote.as_of == ny(2026, 3, 9, 15, 59, 30)
    assert quote.detail["decimals"] == 8 and quote.detail["round_id"] == "7"


def test_answer_older_than_the_heartbeat_is_stale(feed: Feed, clock: Callable[..., None]) -> None:
    feed.answer("612.34", ny(2026, 3, 9, 15, 0))
    clock(ny(2026, 3, 9, 16, 5))
    with pytest.raises(OracleError) as err:
        feed.oracle(heartbeat_s=1800).fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "stale"


def test_answer_from_before_the_session_is_stale(feed: Feed, clock: Callable[..., None]) -> None:
    feed.answer("600", ny(2026, 3, 6, 16, 0))  # Friday's value, within a 4-day heartbeat
    clock(ny(2026, 3, 9, 16, 5))
    with pytest.raises(OracleError) as err:
        feed.oracle(heartbeat_s=4 * 86400).fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "stale"


def test_answer_carried_over_from_an_older_round_is_stale(feed: Feed, clock: Callable[..., None]) -> None:
    feed.answer("612", ny(2026, 3, 9, 15, 59), round_id=9, answered_in_round=8)
    clock(ny(2026, 3, 9, 16, 5))
    with pytest.raises(OracleError) as err:
        feed.oracle().fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "stale"


def test_answer_moved_after_the_close_is_not_the_close(feed: Feed, clock: Callable[..., None]) -> None:
    feed.answer("613", ny(2026, 3, 9, 16, 6))
    clock(ny(2026, 3, 9, 16, 7))
    with pytest.raises(OracleError) as err:
        feed.oracle().fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "unsupported"


@pytest.mark.parametrize(("answer", "updated_at"), [(0, 1), (-5, 1), (61_234_000_000, 0)])
def test_non_positive_or_incomplete_answers_are_invalid(
    feed: Feed, clock: Callable[..., None], answer: int, updated_at: int
) -> None:
    ts = int(ny(2026, 3, 9, 15, 59).timestamp()) if updated_at else 0
    feed.raw(3, answer, ts, 3)
    clock(ny(2026, 3, 9, 16, 5))
    with pytest.raises(OracleError) as err:
        feed.oracle().fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "invalid"


def test_answer_from_the_future_is_invalid(feed: Feed, clock: Callable[..., None]) -> None:
    feed.answer("612", ny(2026, 3, 9, 17, 0))
    clock(ny(2026, 3, 9, 16, 5))
    with pytest.raises(OracleError) as err:
        feed.oracle().fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "invalid"


def test_no_close_before_the_session_closes(feed: Feed, clock: Callable[..., None]) -> None:
    clock(ny(2026, 3, 9, 15, 0))
    with pytest.raises(OracleError) as err:
        feed.oracle().fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "not_available"


@pytest.mark.parametrize("address", ["", "not-an-address", "0x000000000000000000000000000000000000dEaD"])
def test_missing_feed_is_misconfigured(feed: Feed, clock: Callable[..., None], address: str) -> None:
    clock(ny(2026, 3, 9, 16, 5))
    oracle = ChainlinkOracle(w3=feed.w3, feed_address=address, heartbeat_s=3600, close_tolerance_s=300)
    with pytest.raises(OracleError) as err:
        oracle.fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "misconfigured"


def test_unreachable_node(clock: Callable[..., None]) -> None:
    clock(ny(2026, 3, 9, 16, 5))
    w3 = Web3(Web3.HTTPProvider("http://127.0.0.1:9", request_kwargs={"timeout": 1}))
    oracle = ChainlinkOracle(
        w3=w3, feed_address="0x000000000000000000000000000000000000dEaD", heartbeat_s=3600, close_tolerance_s=300
    )
    with pytest.raises(OracleError) as err:
        oracle.fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "unavailable"


@pytest.mark.django_db
def test_round_settles_from_the_chain_with_an_operator_reference(
    feed: Feed, clock: Callable[..., None], player: Callable[..., Any]
) -> None:
    feed.answer("612.50", ny(2026, 3, 9, 15, 59, 59))
    clock(ny(2026, 3, 7, 12))
    opened = round_open()
    alice, bob = player(), player()
    bet(alice, "UP", 4_000)
    bet(bob, "DOWN", 1_000)
    # A chain feed answers for the latest session only: the first round's reference is typed in.
    manual_price_set(asset="QQQ", session_date=opened.reference_date, price="612.49", entered_by="ops")
    clock(ny(2026, 3, 9, 16, 5))
    settled = round_settle(code=opened.code, oracle=feed.oracle()).round
    assert (settled.result, settled.closing_price, settled.closing_source) == ("UP", Decimal("612.5"), "chainlink")
    assert settled.reference_source == "manual"
    assert wallet(alice) == 10_000_000 + 990  # fee 10 on the DOWN pool of 1,000
    assert reconcile().clean


@pytest.mark.django_db
def test_stale_chain_answer_keeps_the_round_waiting_then_void(
    feed: Feed, clock: Callable[..., None], player: Callable[..., Any]
) -> None:
    feed.answer("600", ny(2026, 3, 6, 15, 59))
    clock(ny(2026, 3, 7, 12))
    opened = round_open()
    alice = player()
    bet(alice, "UP", 4_000)
    bet(player(), "DOWN", 1_000)
    manual_price_set(asset="QQQ", session_date=opened.reference_date, price="600", entered_by="ops")
    clock(ny(2026, 3, 9, 16, 5))
    assert round_settle(code=opened.code, oracle=feed.oracle(heartbeat_s=7 * 86400)).state == "waiting"
    clock(ny(2026, 3, 9, 16, 35))
    settled = round_settle(code=opened.code, oracle=feed.oracle(heartbeat_s=7 * 86400)).round
    assert (settled.status, settled.void_reason) == ("void", "oracle_silent")
    assert wallet(alice) == 10_000_000
    assert reconcile().clean


def test_oracle_from_settings_reads_over_http_with_a_timeout(settings: Any, clock: Callable[..., None]) -> None:
    from betting.rounds.oracles import oracle_from_settings

    settings.ROUNDS_ORACLE = "chainlink"
    settings.ROUNDS_CHAINLINK_RPC_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.ROUNDS_CHAINLINK_FEED_ADDRESS = "0x000000000000000000000000000000000000dEaD"
    settings.ROUNDS_CHAINLINK_TIMEOUT_S = 1.0
    settings.ROUNDS_CHAINLINK_RETRIES = 1
    clock(ny(2026, 3, 9, 16, 5))
    oracle = oracle_from_settings()
    assert isinstance(oracle, ChainlinkOracle)
    with pytest.raises(OracleError) as err:
        oracle.fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "unavailable"
