"""Settle a chunk of slips set-based, inside the caller's transaction (which holds the event's lock).

For the chunk, in a handful of statements whatever its size:
1. read the slips with their legs, the legs' stored grades and what the leg-level voids need;
2. grade each leg at its own odds (`leg_grade`) and price the slip (`betting.pricing.slip_payout`):
   a pending slip whose every leg is graded settles at version 1; a settled slip (in a
   resettlement pass) whose status or payout would change is resettled at version n + 1;
3. move the slips by compare-and-set, locked in id order: only the slips this statement moved go on;
   one changed between the read and the lock is read again under it and settled as it now is
   (a partial cashout leaves it pending on a smaller stake), unless it is no longer due;
4. lock the wallets and receivables (id order) of the users paid or, resettling, clawed back, and
   post one ledger transaction per slip, all at once: `bet:settle:<slip>:v<n>` (escrow -> wallet,
   house -> wallet, escrow -> house, the user's side paying a receivable first); a resettlement
   first reverses v<n-1> (a claw-back beyond the wallet is booked on the receivable);
5. release the settled slips' liability and write their `bet.settled` / `bet.updated` events.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection

from betting.models import BetSlip
from betting.pricing import SlipPayout, settlement_split, slip_payout
from betting.services.limits import liabilities_release
from ledger.currencies import money
from ledger.models import Account
from ledger.services import Entry, Line, entries_post, system_account
from realtime.outbox import events_emit_many
from settlement.db import binary_cursor, epoch_us, micros_to_datetime
from settlement.facts import stored_outcome
from settlement.grading import (
    EventFacts,
    Grade,
    MarketFacts,
    Outcome,
    Ungraded,
    UngradedReason,
    VoidWindow,
    leg_grade,
)
from settlement.services.books import UserBooks

SETTLED = (BetSlip.Status.WON, BetSlip.Status.LOST, BetSlip.Status.VOID)
_AWAITING = Ungraded(UngradedReason.AWAITING_RESULT, "the selection has no result yet")

# Three plain reads rather than one join: joined, the planner hashes whole tables (every leg,
# every slip) for a chunk of a few thousand rows; apart, each is an index scan.
_SLIPS = f"""
SELECT id, user_id, type, system_k, stake, currency, potential_payout, status, payout, settlement_version,
       {epoch_us("accepted_at")}
FROM betting_betslip WHERE id = ANY(%b::bigint[]) AND status = ANY(%b::text[]) ORDER BY id
"""  # noqa: S608 - epoch_us() writes constant SQL
_LEGS = """
SELECT slip_id, selection_id, odds_placed, live, event_id FROM betting_betleg
WHERE slip_id = ANY(%b::bigint[]) ORDER BY slip_id, id
"""
_SELECTIONS = f"""
SELECT sel.id, sel.market_id, m.kind, sel.result, sel.dead_heat_tied, sel.dead_heat_places, sel.void_reason,
       {epoch_us("e.actual_start")}, {epoch_us("e.result_received_at")}
FROM betting_selection sel JOIN betting_market m ON m.id = sel.market_id JOIN betting_event e ON e.id = m.event_id
WHERE sel.id = ANY(%b::bigint[])
"""  # noqa: S608 - epoch_us() writes constant SQL

# Compare-and-set of many slips: lock them in id order, then move exactly those still as read
# (status, settlement version and stake, which a partial cashout changes).
# Two statements, each on the primary key (`id = ANY(...)`): a CTE joining the two misleads the
# planner into a nested loop over both lists.
_LOCK_SLIPS = "SELECT id FROM betting_betslip WHERE id = ANY(%b::bigint[]) ORDER BY id FOR UPDATE"
_MOVE = """
UPDATE betting_betslip s
SET status = v.status, payout = v.payout, settlement_version = v.version, settled_at = %b
FROM unnest(%b::bigint[], %b::text[], %b::bigint[], %b::int[], %b::text[], %b::int[], %b::bigint[])
    AS v(id, status, payout, version, old_status, old_version, old_stake)
WHERE s.id = ANY(%b::bigint[]) AND s.id = v.id AND s.status = v.old_status AND s.settlement_version = v.old_version
  AND s.stake = v.old_stake
RETURNING s.id
"""

_PREVIOUS = """
SELECT t.idempotency_key, t.id, p.account_id, p.amount, p.currency, a.user_id
FROM ledger_transaction t
JOIN ledger_posting p ON p.transaction_id = t.id
JOIN ledger_account a ON a.id = p.account_id
WHERE t.idempotency_key = ANY(%s)
ORDER BY t.id, p.id
"""


@dataclass(slots=True)
class _Leg:
    selection_id: int
    odds: Decimal
    live: bool
    event_id: int
    market_id: int
    market_kind: str
    outcome: Outcome | None
    actual_start: datetime | None


@dataclass(slots=True)
class _Slip:
    id: int
    user_id: int
    kind: str
    system_k: int | None
    stake: int
    currency: str
    potential: int
    status: str
    payout: int | None
    version: int
    accepted_at: datetime
    result_at: datetime | None
    legs: list[_Leg] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Settled:
    """One slip this chunk settled (or resettled)."""

    slip_id: int
    user_id: int
    status: str
    payout: int
    stake: int
    currency: str
    version: int
    previous_status: str
    previous_payout: int | None
    result_at: datetime | None

    @property
    def resettled(self) -> bool:
        return self.version > 1


@dataclass
class ChunkResult:
    settled: list[Settled] = field(default_factory=list)
    waiting: int = 0  # pending: a leg is not graded yet
    unchanged: int = 0  # settled, and the regrade changes nothing
    raced: int = 0  # taken by someone else between our read and our lock (settled, cashed out)
    ungraded: Counter[str] = field(default_factory=Counter)  # why legs cannot be graded (not awaiting)


@dataclass
class ChunkContext:
    """What a pass over one event reuses between its chunks."""

    void_windows: dict[int, tuple[VoidWindow, ...]] = field(default_factory=dict)
    accounts: dict[tuple[str, str], int] = field(default_factory=dict)
    event_facts: dict[tuple[int, datetime | None], EventFacts] = field(default_factory=dict)
    market_facts: dict[int, MarketFacts] = field(default_factory=dict)

    def system_account_id(self, kind: str, currency: str) -> int:
        key = (kind, currency)
        if key not in self.accounts:
            self.accounts[key] = system_account(kind=kind, currency=currency).pk
        return self.accounts[key]


def slips_settle(*, slip_ids: Sequence[int], now: datetime, resettle: bool, context: ChunkContext) -> ChunkResult:
    """Settle what can be settled among `slip_ids` (see the module docstring). Inside the caller's
    transaction. `resettle` lets settled slips be settled again when their payout would change."""
    statuses = ["pending", *SETTLED] if resettle else ["pending"]
    result = ChunkResult()
    plans = _plan(_load(slip_ids, statuses), result, context)
    if not plans:
        return result

    moved = _compare_and_set(plans, now=now)
    raced = [slip.id for slip, _ in plans if slip.id not in moved]
    plans = [(slip, priced) for slip, priced in plans if slip.id in moved]
    if raced:
        # Moved between our read and our lock: by another pass (settled: nothing left to do), a
        # full cashout (gone), or a partial cashout, which leaves the slip pending on a smaller
        # stake. The rows are ours now: read them again as they are and settle what is still due,
        # rather than leave a graded slip pending until the next run.
        again = _plan(_load(raced, statuses), result, context)
        moved = _compare_and_set(again, now=now) if again else set()
        plans += [(slip, priced) for slip, priced in again if slip.id in moved]
        result.raced = len(raced) - len(moved)
    if not plans:
        return result
    for slip, priced in plans:
        result.settled.append(
            Settled(
                slip_id=slip.id,
                user_id=slip.user_id,
                status=priced.status.value,
                payout=priced.payout,
                stake=slip.stake,
                currency=slip.currency,
                version=slip.version + 1,
                previous_status=slip.status,
                previous_payout=slip.payout,
                result_at=slip.result_at,
            )
        )
    tx_ids = _money_post(plans, context=context)
    _liability_release([slip for slip, _ in plans if slip.status == BetSlip.Status.PENDING])
    _events_emit(result.settled, tx_ids, now=now)
    return result


def _plan(slips: list[_Slip], result: ChunkResult, context: ChunkContext) -> list[tuple[_Slip, SlipPayout]]:
    """The slips to move and what each pays; counts the others (waiting, unchanged) in `result`."""
    _void_windows_load(context, {leg.market_id for slip in slips for leg in slip.legs})
    plans: list[tuple[_Slip, SlipPayout]] = []
    for slip in slips:
        grades = _legs_graded(slip, context)
        graded = [g for g in grades if isinstance(g, Grade)]
        if len(graded) < len(grades):
            result.waiting += 1
            result.ungraded.update(g.reason.value for g in grades if isinstance(g, Ungraded) and not g.awaiting)
            continue
        priced = slip_payout(kind=slip.kind, stake=slip.stake, legs=graded, system_k=slip.system_k)
        if slip.status != BetSlip.Status.PENDING and (priced.status.value, priced.payout) == (slip.status, slip.payout):
            result.unchanged += 1
            continue
        plans.append((slip, priced))
    return plans


def _load(slip_ids: Sequence[int], statuses: list[str]) -> list[_Slip]:
    cursor = binary_cursor()
    moments: dict[int | None, datetime | None] = {None: None}

    def moment(micros: int | None) -> datetime | None:
        if micros not in moments:
            moments[micros] = micros_to_datetime(micros)
        return moments[micros]

    cursor.execute(_SLIPS, [list(slip_ids), statuses], binary=True, prepare=False)
    slips: dict[int, _Slip] = {}
    for slip_id, user_id, kind, system_k, stake, currency, potential, status, payout, version, accepted_us in cursor:
        accepted_at = moment(accepted_us)
        if accepted_at is None:
            raise ValueError(f"slip {slip_id} is {status} but was never accepted")
        slips[slip_id] = _Slip(
            slip_id, user_id, kind, system_k, stake, currency, potential, status, payout, version, accepted_at, None
        )
    if not slips:
        return []
    cursor.execute(_LEGS, [list(slips)], binary=True, prepare=False)
    legs = cursor.fetchall()
    cursor.execute(_SELECTIONS, [sorted({leg[1] for leg in legs})], binary=True, prepare=False)
    selections = {}
    outcomes: dict[tuple[str, int | None, int | None, str], Outcome | None] = {}
    for selection_id, market_id, market_kind, res, tied, places, void_reason, started_us, result_us in cursor:
        key = (res, tied, places, void_reason)
        if key not in outcomes:
            outcomes[key] = stored_outcome(res, tied, places, void_reason)
        selections[selection_id] = (market_id, market_kind, outcomes[key], moment(started_us), moment(result_us))
    for slip_id, selection_id, odds, live, event_id in legs:
        slip = slips[slip_id]
        market_id, market_kind, outcome, actual_start, result_at = selections[selection_id]
        slip.legs.append(_Leg(selection_id, odds, live, event_id, market_id, market_kind, outcome, actual_start))
        if result_at is not None and (slip.result_at is None or result_at > slip.result_at):
            slip.result_at = result_at  # a parlay is settled by its last result
    return list(slips.values())


def _void_windows_load(context: ChunkContext, market_ids: Iterable[int]) -> None:
    wanted = [m for m in market_ids if m not in context.void_windows]
    if not wanted:
        return
    windows: dict[int, list[VoidWindow]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT market_id, start, "end" FROM settlement_marketvoidwindow WHERE market_id = ANY(%s) ORDER BY id',
            [wanted],
        )
        for market_id, start, end in cursor.fetchall():
            windows[market_id].append(VoidWindow(start=start, end=end))
    for market_id in wanted:
        context.void_windows[market_id] = tuple(windows.get(market_id, ()))


def _legs_graded(slip: _Slip, context: ChunkContext) -> list[Grade | Ungraded]:
    grades: list[Grade | Ungraded] = []
    for leg in slip.legs:
        event_key = (leg.event_id, leg.actual_start)
        event = context.event_facts.get(event_key)
        if event is None:
            # leg_grade reads only the actual start (late bets); the status is not looked at again.
            event = EventFacts(
                status="finished", scheduled_start=leg.actual_start or slip.accepted_at, disrupted=False,
                actual_start=leg.actual_start,
            )  # fmt: skip
            context.event_facts[event_key] = event
        market = context.market_facts.get(leg.market_id)
        if market is None:
            market = MarketFacts(kind=leg.market_kind, void_windows=context.void_windows.get(leg.market_id, ()))
            context.market_facts[leg.market_id] = market
        grades.append(
            leg_grade(
                outcome=leg.outcome if leg.outcome is not None else _AWAITING,
                odds=leg.odds,
                accepted_at=slip.accepted_at,
                in_play=leg.live,
                event=event,
                market=market,
            )
        )
    return grades


def _compare_and_set(plans: list[tuple[_Slip, SlipPayout]], *, now: datetime) -> set[int]:
    ids = [slip.id for slip, _ in plans]
    cursor = binary_cursor()
    cursor.execute(_LOCK_SLIPS, [ids], binary=True, prepare=False)
    cursor.execute(
        _MOVE,
        [
            now,
            ids,
            [priced.status.value for _, priced in plans],
            [priced.payout for _, priced in plans],
            [slip.version + 1 for slip, _ in plans],
            [slip.status for slip, _ in plans],
            [slip.version for slip, _ in plans],
            # A partial cashout changes the stake of a slip that stays pending: the payout priced
            # on the stake read must not be paid on another.
            [slip.stake for slip, _ in plans],
            ids,
        ],
        binary=True,
        prepare=False,
    )
    return {row[0] for row in cursor.fetchall()}


def settle_key(slip_id: int, version: int) -> str:
    return f"bet:settle:{slip_id}:v{version}"


def _money_post(plans: list[tuple[_Slip, SlipPayout]], *, context: ChunkContext) -> dict[int, int]:
    """One ledger transaction per slip (plus the reversal of a resettled slip's previous one), all
    posted together; returns each slip's new settlement transaction id."""
    # Only the users money moves for are locked: a first settlement that pays nothing (a lost slip)
    # touches escrow and the house alone.
    books = UserBooks((slip.user_id, slip.currency) for slip, priced in plans if priced.payout or slip.version)
    previous = _previous_settlements([settle_key(slip.id, slip.version) for slip, _ in plans if slip.version])
    entries: list[Entry] = []
    for slip, priced in plans:
        escrow = context.system_account_id(Account.Kind.BETS_ESCROW, slip.currency)
        house = context.system_account_id(Account.Kind.HOUSE, slip.currency)
        if slip.version:
            entries.append(_reversal(slip, previous[settle_key(slip.id, slip.version)], books))
        split = settlement_split(stake=slip.stake, payout=priced.payout)
        lines = [Line(escrow, -slip.stake, slip.currency)]
        house_delta = split.escrow_to_house - split.house_to_wallet
        if house_delta:
            lines.append(Line(house, house_delta, slip.currency))
        lines.extend(books.lines(user_id=slip.user_id, currency=slip.currency, delta=priced.payout))
        version = slip.version + 1
        entries.append(
            Entry(
                key=settle_key(slip.id, version),
                kind="bet.settle",
                lines=lines,
                reference=f"slip:{slip.id}",
                metadata={
                    "slip": slip.id,
                    "version": version,
                    "status": priced.status.value,
                    "escrow_to_wallet": split.escrow_to_wallet,
                    "house_to_wallet": split.house_to_wallet,
                    "escrow_to_house": split.escrow_to_house,
                },
            )
        )
    posted = entries_post(entries)
    if posted.replayed:  # the compare-and-set above makes this impossible; never pay twice quietly
        raise RuntimeError(f"settlement keys already posted: {sorted(posted.replayed)[:5]}")
    return {slip.id: posted.created[settle_key(slip.id, slip.version + 1)] for slip, _ in plans}


@dataclass
class _Previous:
    tx_id: int
    system_lines: list[Line] = field(default_factory=list)
    user_delta: int = 0


def _previous_settlements(keys: list[str]) -> dict[str, _Previous]:
    found: dict[str, _Previous] = {}
    if not keys:
        return found
    with connection.cursor() as cursor:
        cursor.execute(_PREVIOUS, [keys])
        for key, tx_id, account_id, amount, currency, user_id in cursor.fetchall():
            previous = found.setdefault(key, _Previous(tx_id))
            if user_id is None:
                previous.system_lines.append(Line(account_id, -amount, currency))
            else:
                previous.user_delta -= amount
    missing = set(keys) - set(found)
    if missing:
        raise RuntimeError(f"settled slips without their settlement transaction: {sorted(missing)[:5]}")
    return found


def _reversal(slip: _Slip, previous: _Previous, books: UserBooks) -> Entry:
    """The previous settlement undone: system accounts get their postings back; the user gives
    back what they were paid, down to a zero wallet and the rest on their receivable."""
    key = settle_key(slip.id, slip.version)
    lines = [
        *previous.system_lines,
        *books.lines(user_id=slip.user_id, currency=slip.currency, delta=previous.user_delta),
    ]
    return Entry(
        key=f"{key}:reverse",
        kind="reversal",
        lines=lines,
        reference=f"slip:{slip.id}",
        description="resettlement: the result was corrected",
        metadata={"reverses": previous.tx_id, "reason": "resettlement", "slip": slip.id},
        reverses_id=previous.tx_id,
    )


def _liability_release(slips: list[_Slip]) -> None:
    exposures: dict[tuple[int, str], int] = defaultdict(int)
    for slip in slips:
        exposure = slip.potential - slip.stake
        if exposure > 0:
            for leg in slip.legs:
                exposures[(leg.selection_id, slip.currency)] += exposure
    liabilities_release(exposures=exposures)


def _events_emit(settled: list[Settled], tx_ids: dict[int, int], *, now: datetime) -> None:
    at = now.isoformat()
    events: list[tuple[str, dict[str, object], int | None, str]] = []
    for item in settled:
        data: dict[str, object] = {
            "slip": item.slip_id,
            "status": item.status,
            "payout": money(item.payout, item.currency),
            "stake": money(item.stake, item.currency),
            "version": item.version,
            "settled_at": at,
            "transaction": tx_ids[item.slip_id],
        }
        if item.resettled:
            data["previous"] = {"status": item.previous_status, "payout": item.previous_payout}
            events.append(("bet.updated", {**data, "reason": "resettled"}, item.user_id, ""))
        else:
            events.append(("bet.settled", data, item.user_id, ""))
    events_emit_many(events)
