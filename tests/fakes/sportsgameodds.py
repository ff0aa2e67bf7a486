"""A local SportsGameOdds API v2 that speaks the documented wire format (PROVIDERS.md).

Games run on a clock: each league has a game every `slot` minutes from a fixed epoch, laid out
from a seed, so the same seed and the same (frozen) time give the same slate, scores and odds.
Odds drift minute by minute before a game and follow the score while it is live; games end,
then are finalized with their scores a couple of minutes later. Basketball (NBA: moneyline,
half-point spread, total), American football (NFL: whole-point spreads, which can push) and
soccer (EPL: a 3-way market, a quarter-line spread, total 2.5). Every 23rd game is cancelled.
While a goal is being reviewed (a minute after it), a soccer game's odds vanish.

Tests drive failures through `fail_next` (a status for the next requests) and `mutate` (change
one event's payload: corrupt it, drop odds).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
LOOKBACK = timedelta(hours=3)
HORIZON = timedelta(hours=12)
MAX_LIMIT = 300
DEFAULT_LIMIT = 10
CANCELLED_EVERY = 23
FINALIZE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class LeagueSpec:
    league: str
    sport: str
    teams: tuple[tuple[str, str, str], ...]  # (teamID, long name, short name)
    slot_min: int
    offset_min: int
    duration_min: int
    periods: tuple[str, ...]
    bet_types: tuple[str, ...]


LEAGUES: tuple[LeagueSpec, ...] = (
    LeagueSpec(
        "NBA",
        "BASKETBALL",
        (
            ("LAKERS_NBA", "Los Angeles Lakers", "LAL"),
            ("CELTICS_NBA", "Boston Celtics", "BOS"),
            ("WARRIORS_NBA", "Golden State Warriors", "GSW"),
            ("BUCKS_NBA", "Milwaukee Bucks", "MIL"),
            ("NUGGETS_NBA", "Denver Nuggets", "DEN"),
            ("KNICKS_NBA", "New York Knicks", "NYK"),
        ),
        slot_min=30,
        offset_min=0,
        duration_min=20,
        periods=("1q", "2q", "3q", "4q"),
        bet_types=("ml", "sp", "ou"),
    ),
    LeagueSpec(
        "NFL",
        "FOOTBALL",
        (
            ("CHIEFS_NFL", "Kansas City Chiefs", "KC"),
            ("EAGLES_NFL", "Philadelphia Eagles", "PHI"),
            ("BILLS_NFL", "Buffalo Bills", "BUF"),
            ("49ERS_NFL", "San Francisco 49ers", "SF"),
            ("RAVENS_NFL", "Baltimore Ravens", "BAL"),
            ("LIONS_NFL", "Detroit Lions", "DET"),
        ),
        slot_min=30,
        offset_min=10,
        duration_min=24,
        periods=("1q", "2q", "3q", "4q"),
        bet_types=("ml", "sp", "ou"),
    ),
    LeagueSpec(
        "EPL",
        "SOCCER",
        (
            ("ARSENAL_EPL", "Arsenal", "ARS"),
            ("CHELSEA_EPL", "Chelsea", "CHE"),
            ("LIVERPOOL_EPL", "Liverpool", "LIV"),
            ("MANCITY_EPL", "Manchester City", "MCI"),
            ("NEWCASTLE_EPL", "Newcastle United", "NEW"),
            ("TOTTENHAM_EPL", "Tottenham Hotspur", "TOT"),
        ),
        slot_min=30,
        offset_min=20,
        duration_min=18,
        periods=("1h", "2h"),
        bet_types=("ml3way", "sp", "ou"),
    ),
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _american(decimal_odds: float) -> str:
    decimal_odds = max(decimal_odds, 1.01)
    if decimal_odds >= 2:
        return f"+{round((decimal_odds - 1) * 100)}"
    return f"-{round(100 / (decimal_odds - 1))}"


def _price(probability: float, margin: float = 0.045) -> str:
    probability = min(max(probability, 0.02), 0.97)
    return _american(1 / (probability * (1 + margin)))


def _logistic(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@dataclass(frozen=True)
class Game:
    spec: LeagueSpec
    slot: int
    seed: int
    event_id: str
    home: tuple[str, str, str]
    away: tuple[str, str, str]
    starts_at: datetime
    strength: float  # > 0 favours home
    final_home: int
    final_away: int
    score_times: tuple[tuple[float, str], ...]  # (fraction of the game, "home"|"away") per score
    line: float
    total: float

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.spec.duration_min)

    @property
    def cancelled(self) -> bool:
        return (self.slot + sum(map(ord, self.spec.league))) % CANCELLED_EVERY == 7

    def scores_at(self, fraction: float) -> tuple[int, int]:
        if self.spec.sport == "SOCCER":
            home = sum(1 for t, side in self.score_times if t <= fraction and side == "home")
            return home, sum(1 for t, side in self.score_times if t <= fraction and side == "away")
        return math.floor(self.final_home * fraction), math.floor(self.final_away * fraction)


def make_game(spec: LeagueSpec, slot: int, seed: int) -> Game:
    rng = random.Random(f"{seed}:{spec.league}:{slot}")  # noqa: S311 - a demo slate, not secrets
    home, away = rng.sample(spec.teams, 2)
    strength = rng.uniform(-1, 1)
    digest = hashlib.sha256(f"{seed}:{spec.league}:{slot}".encode()).digest()
    event_id = base64.b32encode(digest).decode().rstrip("=")[:20]
    starts_at = EPOCH + timedelta(minutes=spec.offset_min + slot * spec.slot_min)
    score_times: list[tuple[float, str]] = []
    if spec.sport == "BASKETBALL":
        total = rng.uniform(212, 236)
        final_home = round(total / 2 + strength * 6 + rng.uniform(-9, 9))
        final_away = round(total / 2 - strength * 6 + rng.uniform(-9, 9))
        line = round(-strength * 8 * 2) / 2
        total_line = math.floor(total) + 0.5
    elif spec.sport == "FOOTBALL":
        total = rng.uniform(38, 52)
        final_home = max(0, round(total / 2 + strength * 5 + rng.uniform(-8, 8)))
        final_away = max(0, round(total / 2 - strength * 5 + rng.uniform(-8, 8)))
        line = round(-strength * 7 * 2) / 2
        total_line = math.floor(total) + 0.5
    else:
        for side, rate in (("home", 1.4 + 0.5 * strength), ("away", 1.1 - 0.5 * strength)):
            goals = sum(1 for _ in range(12) if rng.random() < max(rate, 0.2) / 12)
            score_times.extend((rng.uniform(0.02, 0.98), side) for _ in range(goals))
        score_times.sort()
        final_home = sum(1 for _, side in score_times if side == "home")
        final_away = len(score_times) - final_home
        base = round(-strength * 1.5 * 2) / 2
        line = base - 0.25 if base <= 0 else base + 0.25  # always a quarter line
        total_line = 2.5
    return Game(
        spec=spec,
        slot=slot,
        seed=seed,
        event_id=event_id,
        home=home,
        away=away,
        starts_at=starts_at,
        strength=strength,
        final_home=final_home,
        final_away=final_away,
        score_times=tuple(score_times),
        line=line,
        total=total_line,
    )


def _odd(
    odd_id: str, opposing: str, price: str | None, *, started: bool, ended: bool, cancelled: bool, extra: dict[str, Any]
) -> dict[str, Any]:
    stat, entity, period, bet_type, side = odd_id.split("-")
    odd: dict[str, Any] = {
        "oddID": odd_id,
        "opposingOddID": opposing,
        "marketName": {"ml": "Moneyline", "ml3way": "3-Way Moneyline", "sp": "Spread", "ou": "Over/Under"}[bet_type],
        "statID": stat,
        "statEntityID": entity,
        "periodID": period,
        "betTypeID": bet_type,
        "sideID": side,
        "started": started,
        "ended": ended,
        "cancelled": cancelled,
        "bookOddsAvailable": price is not None,
        "fairOddsAvailable": price is not None,
        **extra,
    }
    if price is not None:
        odd["bookOdds"] = price
        odd["fairOdds"] = price
        odd["byBookmaker"] = {
            "draftkings": {"odds": price, "available": True, "lastUpdatedAt": "", **_book_lines(extra)}
        }
    return odd


def _book_lines(extra: dict[str, Any]) -> dict[str, Any]:
    lines = {}
    if "bookSpread" in extra:
        lines["spread"] = extra["bookSpread"]
    if "bookOverUnder" in extra:
        lines["overUnder"] = extra["bookOverUnder"]
    return lines


def _line_text(value: float) -> str:
    text = f"{value:+.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("+0", "-0") else text


def event_payload(game: Game, now: datetime) -> dict[str, Any]:
    """One game as SportsGameOdds shows it at `now`."""
    spec = game.spec
    started = now >= game.starts_at and not game.cancelled
    ended = now >= game.ends_at and not game.cancelled
    finalized = now >= game.ends_at + FINALIZE_AFTER and not game.cancelled
    fraction = 0.0 if not started else min((now - game.starts_at) / (game.ends_at - game.starts_at), 1.0)
    home_score, away_score = game.scores_at(fraction)
    live = started and not ended

    if live:
        period_index = min(int(fraction * len(spec.periods)), len(spec.periods) - 1)
        period = spec.periods[period_index]
        display = f"{period.upper()} live"
    else:
        period = ""
        display = "Final" if ended else ("Cancelled" if game.cancelled else "")

    minute = int(now.timestamp() // 60)
    drift = 0.04 * math.sin(minute / 3 + game.slot)
    scale = {"BASKETBALL": 10.0, "FOOTBALL": 7.0, "SOCCER": 1.0}[spec.sport]
    lead = (home_score - away_score) / scale
    p_home = _logistic(1.6 * game.strength * (1 - fraction) + 2.2 * lead * (0.4 + fraction) + drift)
    # A goal under review: the book pulls its prices for a minute.
    reviewing = live and any(0 <= fraction - t < 1 / spec.duration_min for t, _side in game.score_times)
    available = not (game.cancelled or reviewing)
    flags = {"started": started, "ended": ended, "cancelled": game.cancelled}

    def price(probability: float) -> str | None:
        return _price(probability) if available else None

    odds: dict[str, Any] = {}

    def put(odd_id: str, opposing: str, probability: float, extra: dict[str, Any] | None = None) -> None:
        odds[odd_id] = _odd(odd_id, opposing, price(probability), extra=extra or {}, **flags)

    if "ml" in spec.bet_types:
        put("points-home-game-ml-home", "points-away-game-ml-away", p_home, {"score": home_score})
        put("points-away-game-ml-away", "points-home-game-ml-home", 1 - p_home, {"score": away_score})
    if "ml3way" in spec.bet_types:
        p_draw = 0.27 * (1 - abs(p_home - 0.5))
        put("points-home-game-ml3way-home", "points-away-game-ml3way-away", p_home * (1 - p_draw))
        put("points-away-game-ml3way-away", "points-home-game-ml3way-home", (1 - p_home) * (1 - p_draw))
        put("points-all-game-ml3way-draw", "points-all-game-ml3way-draw", p_draw)
    if "sp" in spec.bet_types:
        p_cover = 0.5 + 0.06 * math.sin(minute / 5 + game.slot) + 0.3 * (lead + game.line / scale) * fraction
        p_cover = min(max(p_cover, 0.05), 0.95)
        put("points-home-game-sp-home", "points-away-game-sp-away", p_cover, {"bookSpread": _line_text(game.line)})
        put("points-away-game-sp-away", "points-home-game-sp-home", 1 - p_cover, {"bookSpread": _line_text(-game.line)})
    if "ou" in spec.bet_types:
        expected = game.total + 0.5 * math.sin(minute / 4 + game.slot)
        so_far = home_score + away_score
        projected = so_far + expected * (1 - fraction)
        p_over = _logistic((projected - game.total) / max(scale, 1.0))
        total = {"bookOverUnder": _line_text(game.total).lstrip("+")}
        put("points-all-game-ou-over", "points-all-game-ou-under", p_over, total)
        put("points-all-game-ou-under", "points-all-game-ou-over", 1 - p_over, total)

    def team(side: tuple[str, str, str], score: int) -> dict[str, Any]:
        team_id, long_name, short = side
        entry: dict[str, Any] = {"teamID": team_id, "names": {"long": long_name, "medium": long_name, "short": short}}
        if started:
            entry["score"] = score
        return entry

    payload: dict[str, Any] = {
        "eventID": game.event_id,
        "sportID": spec.sport,
        "leagueID": spec.league,
        "type": "match",
        "teams": {"home": team(game.home, home_score), "away": team(game.away, away_score)},
        "status": {
            "startsAt": _iso(game.starts_at),
            "started": started,
            "ended": ended,
            "completed": ended,
            "finalized": finalized,
            "cancelled": game.cancelled,
            "delayed": False,
            "live": live,
            "displayShort": display,
            "displayLong": display,
            "currentPeriodID": period,
            "oddsPresent": bool(odds),
            "oddsAvailable": available and not ended,
        },
        "odds": {} if game.cancelled else odds,
    }
    if started:
        payload["results"] = {"game": {"home": {"points": home_score}, "away": {"points": away_score}}}
    return payload


@dataclass
class Fault:
    status: int
    body: dict[str, Any] | str
    times: int
    after: int = 0  # requests answered normally before this fault starts


@dataclass
class FakeSportsGameOdds:
    """The WSGI app. `now` is the clock (time-machine moves it in tests)."""

    seed: int = 7
    api_key: str | None = None  # None: any non-empty key is accepted
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    leagues: tuple[LeagueSpec, ...] = LEAGUES
    faults: list[Fault] = field(default_factory=list)
    mutations: dict[str, Callable[[dict[str, Any]], None]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- test controls ------------------------------------------------------------------------

    def fail_next(
        self, status: int = 500, *, times: int = 1, after: int = 0, body: dict[str, Any] | str | None = None
    ) -> None:
        """Answer `times` requests with `status` (and `body`), after `after` normal answers."""
        with self._lock:
            self.faults.append(
                Fault(status, body if body is not None else {"success": False, "error": "boom"}, times, after)
            )

    def mutate(self, event_id: str, change: Callable[[dict[str, Any]], None]) -> None:
        self.mutations[event_id] = change

    # --- the slate ------------------------------------------------------------------------------

    def games(self, now: datetime) -> list[Game]:
        games: list[Game] = []
        for spec in self.leagues:
            slot_len = timedelta(minutes=spec.slot_min)
            first = math.ceil((now - LOOKBACK - EPOCH - timedelta(minutes=spec.offset_min)) / slot_len)
            last = math.floor((now + HORIZON - EPOCH - timedelta(minutes=spec.offset_min)) / slot_len)
            games.extend(make_game(spec, slot, self.seed) for slot in range(first, last + 1))
        return sorted(games, key=lambda g: (g.starts_at, g.event_id))

    def events(
        self, now: datetime, *, after: datetime | None = None, before: datetime | None = None
    ) -> list[dict[str, Any]]:
        payloads = []
        for game in self.games(now):
            if after is not None and game.starts_at < after or before is not None and game.starts_at >= before:
                continue
            payload = event_payload(game, now)
            change = self.mutations.get(game.event_id)
            if change is not None:
                change(payload)
            payloads.append(payload)
        return payloads

    # --- WSGI -----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        return self.respond(request)(environ, start_response)

    def respond(self, request: Request) -> Response:
        self.requests.append(dict(request.args))
        with self._lock:
            fault = self.faults[0] if self.faults else None
            if fault is not None and fault.after > 0:
                fault.after -= 1
                fault = None
            elif fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.pop(0)
        if fault is not None:
            body = fault.body if isinstance(fault.body, str) else json.dumps(fault.body)
            return Response(body, status=fault.status, content_type="application/json")
        key = request.headers.get("x-api-key") or request.args.get("apiKey")
        if not key or (self.api_key is not None and key != self.api_key):
            return _json({"success": False, "error": "Invalid or missing API key"}, 401)
        if request.path.rstrip("/") != "/v2/events":
            return _json({"success": False, "error": "Not found"}, 404)
        return self._events(request)

    def _events(self, request: Request) -> Response:
        args = request.args
        try:
            limit = min(int(args.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
            offset = int(base64.urlsafe_b64decode(args["cursor"]).decode()) if "cursor" in args else 0
            after = _parse(args.get("startsAfter"))
            before = _parse(args.get("startsBefore"))
        except (ValueError, KeyError):
            return _json({"success": False, "error": "Invalid parameters"}, 400)
        if limit < 1:
            return _json({"success": False, "error": "Invalid limit"}, 400)
        events = [e for e in self.events(self.now(), after=after, before=before) if _matches(e, args, after, before)]
        page = events[offset : offset + limit]
        if not page:
            return _json({"success": False, "error": "No events found"}, 404)
        body: dict[str, Any] = {"success": True, "data": page}
        if offset + limit <= len(events) and len(page) == limit:
            body["nextCursor"] = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
        return _json(body, 200)


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("naive time")
    return parsed


def _flag(args: Any, name: str) -> bool | None:
    value = args.get(name)
    return None if value is None else value.lower() == "true"


def _matches(event: dict[str, Any], args: Any, after: datetime | None, before: datetime | None) -> bool:
    status = event["status"]
    starts = datetime.fromisoformat(status["startsAt"].replace("Z", "+00:00"))
    if after is not None and starts < after or before is not None and starts >= before:
        return False
    if args.get("leagueID") and event["leagueID"] not in args["leagueID"].split(","):
        return False
    if args.get("sportID") and event["sportID"] not in args["sportID"].split(","):
        return False
    ids = set(filter(None, (args.get("eventIDs") or "").split(","))) | (
        {args["eventID"]} if args.get("eventID") else set()
    )
    if ids and event["eventID"] not in ids:
        return False
    for name, value in (
        ("started", status["started"]),
        ("ended", status["ended"]),
        ("live", status["live"]),
        ("cancelled", status["cancelled"]),
        ("finalized", status["finalized"]),
        ("oddsAvailable", status["oddsAvailable"]),
    ):
        wanted = _flag(args, name)
        if wanted is not None and wanted != value:
            return False
    return True


def make_app() -> FakeSportsGameOdds:
    from django.conf import settings

    return FakeSportsGameOdds(seed=settings.FAKE_SPORTSGAMEODDS_SEED)
