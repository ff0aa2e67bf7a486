"""SportsGameOdds API v2: the client (paging through the one outbound HTTP client) and the parser
from its wire format (PROVIDERS.md) to plain data the sync writes.

The parser is strict about what it consumes: an event whose fields or odds we use are malformed
is rejected whole, with a reason, so nothing of it is written. Odds it does not consume (player
props, other periods) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog
from django.conf import settings

from betting.odds import OddsFormatError, american_to_decimal, parse_american
from core.errors import DependencyDown
from core.http import HttpClient

log = structlog.get_logger(__name__)

PROVIDER = "sportsgameodds"
MAX_PAGES = 1000
FULL_GAME_PERIODS = {"ml": {"game"}, "sp": {"game"}, "ou": {"game"}, "ml3way": {"game", "reg"}}


class FeedError(DependencyDown):
    """The feed answered something we cannot use as a whole (an error, a broken envelope)."""

    code = "feed_error"


class MalformedEvent(ValueError):
    """One event of the feed cannot be read; the reason says why."""


@dataclass(frozen=True)
class FeedTeam:
    external_id: str
    name: str
    short_name: str


@dataclass(frozen=True)
class FeedSelection:
    outcome: str  # home, away, draw, over, under
    name: str
    odds: Decimal | None  # None: the odds vanished (the market is suspended)


@dataclass(frozen=True)
class FeedMarket:
    key: str
    kind: str  # Market.Kind values
    name: str
    line: Decimal | None
    selections: tuple[FeedSelection, ...]

    @property
    def complete(self) -> bool:
        return all(s.odds is not None for s in self.selections)


@dataclass(frozen=True)
class FeedEvent:
    external_id: str
    sport_key: str
    league_key: str
    home: FeedTeam
    away: FeedTeam
    starts_at: datetime
    status: str  # Event.Status values
    ended: bool  # the game is over (final or not): no more bets
    home_score: int | None
    away_score: int | None
    markets: tuple[FeedMarket, ...]


# --- Client -------------------------------------------------------------------------------


def fake_base_url() -> str:
    """The local fake's address (`config.settings.fake_url(1)`, read through django.conf so
    that a test's settings override reaches it)."""
    return f"http://127.0.0.1:{settings.FAKE_PORT_BASE + 1}"


class SportsGameOddsClient:
    def __init__(self, *, http: HttpClient | None = None, page_limit: int | None = None) -> None:
        self.page_limit = page_limit or settings.SPORTSGAMEODDS_PAGE_LIMIT
        if http is None:
            api_key = settings.SPORTSGAMEODDS_API_KEY
            # No key configured: the local fake (make run, tests) plays the provider.
            base_url = settings.SPORTSGAMEODDS_BASE_URL if api_key else f"{fake_base_url()}/v2"
            http = HttpClient(
                service=PROVIDER,
                base_url=base_url,
                timeout_s=settings.SPORTSGAMEODDS_TIMEOUT_S,
                headers={"x-api-key": api_key or "local-fake"},
                retries=settings.SPORTSGAMEODDS_RETRIES,
                backoff_s=settings.SPORTSGAMEODDS_BACKOFF_S,
            )
        self.http = http

    def events(self, **filters: str) -> list[dict[str, Any]]:
        """Every event matching the filters, following `nextCursor` to the end.

        A request with a cursor that answers 404 means the list is exhausted (PROVIDERS.md).
        """
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _page in range(MAX_PAGES):
            params: dict[str, Any] = {**filters, "limit": self.page_limit}
            if cursor:
                params["cursor"] = cursor
            response = self.http.request("GET", "/events/", params=params)
            if response.status_code == 404:
                if cursor is None:
                    log.info("feed.no_events", filters=filters)
                return items
            if response.status_code != 200:
                raise FeedError(
                    f"SportsGameOdds answered {response.status_code}",
                    details={"status": response.status_code, "error": _error_text(response.text)},
                )
            try:
                payload = response.json()
            except ValueError:
                raise FeedError("SportsGameOdds answered something that is not JSON") from None
            data, next_cursor = parse_envelope(payload)
            items.extend(data)
            if not next_cursor or not data or next_cursor in seen:
                return items
            seen.add(next_cursor)
            cursor = next_cursor
        raise FeedError(f"SportsGameOdds paging did not end after {MAX_PAGES} pages")


def _error_text(body: str) -> str:
    return body[:200]


def parse_envelope(payload: Any) -> tuple[list[dict[str, Any]], str | None]:
    if not isinstance(payload, dict):
        raise FeedError("SportsGameOdds envelope is not an object")
    if payload.get("success") is not True:
        raise FeedError("SportsGameOdds reported an error", details={"error": str(payload.get("error", ""))[:200]})
    data = payload.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise FeedError("SportsGameOdds envelope has no list of events in `data`")
    cursor = payload.get("nextCursor")
    if cursor is not None and not isinstance(cursor, str):
        raise FeedError("SportsGameOdds `nextCursor` is not a string")
    return data, cursor or None


# --- Parser -------------------------------------------------------------------------------


def _require(mapping: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = mapping.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise MalformedEvent(f"{where}.{key} is missing or not {getattr(kind, '__name__', kind)}")
    return value


def _parse_time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedEvent(f"{where} is not an ISO-8601 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedEvent(f"{where} is not an ISO-8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise MalformedEvent(f"{where} has no time zone: {value!r}")
    return parsed


def _score(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or int(value) != value:
        raise MalformedEvent(f"{where} is not a score: {value!r}")
    return int(value)


def _team(teams: Mapping[str, Any], side: str) -> FeedTeam:
    team = _require(teams, side, dict, "teams")
    names = team.get("names") if isinstance(team.get("names"), dict) else {}
    name = names.get("long") or names.get("medium") or names.get("short") or team.get("teamID")
    if not isinstance(name, str) or not name:
        raise MalformedEvent(f"teams.{side} has no name")
    external_id = team.get("teamID") or name
    if not isinstance(external_id, str):
        raise MalformedEvent(f"teams.{side}.teamID is not a string")
    short = names.get("short") if isinstance(names.get("short"), str) else ""
    return FeedTeam(external_id=external_id, name=name[:128], short_name=(short or "")[:32])


def _line(value: Any, where: str) -> Decimal:
    try:
        line = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise MalformedEvent(f"{where} is not a line: {value!r}") from None
    if not line.is_finite() or (line * 4) % 1 != 0 or abs(line) >= 10000:
        raise MalformedEvent(f"{where} is not a line in quarter points: {value!r}")
    return line.quantize(Decimal("0.01"))


def _status(status: Mapping[str, Any]) -> tuple[str, bool]:
    def flag(name: str) -> bool:
        value = status.get(name, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise MalformedEvent(f"status.{name} is not true or false")
        return value

    ended = flag("ended") or flag("completed") or flag("finalized")
    if flag("cancelled"):
        return "cancelled", True
    if flag("finalized"):
        return "finished", True
    if flag("started") or flag("live") or ended:
        return "live", ended
    if flag("delayed"):
        return "postponed", False
    return "scheduled", False


def _odd_parts(odd_id: str, odd: Mapping[str, Any]) -> tuple[str, str, str, str, str] | None:
    parts = odd_id.split("-")
    if len(parts) != 5:
        return None
    stat, entity, period, bet_type, side = parts
    return (
        stat,
        str(odd.get("statEntityID", entity)),
        str(odd.get("periodID", period)),
        str(odd.get("betTypeID", bet_type)),
        str(odd.get("sideID", side)),
    )


def _available_odds(odd: Mapping[str, Any], where: str) -> Decimal | None:
    """The decimal odds of an odd, or None when it is not on offer (vanished, cancelled)."""
    if odd.get("cancelled") is True or odd.get("bookOddsAvailable") is False:
        return None
    raw = odd.get("bookOdds")
    if raw is None or raw == "":
        return None
    try:
        return american_to_decimal(parse_american(raw))
    except OddsFormatError as exc:
        raise MalformedEvent(f"{where}.bookOdds: {exc}") from None


def _markets(odds: Mapping[str, Any], home: FeedTeam, away: FeedTeam) -> tuple[FeedMarket, ...]:
    # (bet type, period) -> side -> (odds, line)
    found: dict[tuple[str, str], dict[str, tuple[Decimal | None, Decimal | None]]] = {}
    for odd_id, odd in odds.items():
        if not isinstance(odd, dict):
            raise MalformedEvent(f"odds.{odd_id} is not an object")
        parts = _odd_parts(str(odd_id), odd)
        if parts is None:
            continue
        stat, entity, period, bet_type, side = parts
        if stat != "points" or period not in FULL_GAME_PERIODS.get(bet_type, ()):
            continue
        if entity not in ("home", "away", "all"):
            continue  # a player's or a team's own stat line: not offered here
        where = f"odds.{odd_id}"
        price = _available_odds(odd, where)
        line: Decimal | None = None
        if bet_type == "sp" and price is not None:
            line = _line(odd.get("bookSpread"), f"{where}.bookSpread")
        elif bet_type == "ou" and price is not None:
            line = _line(odd.get("bookOverUnder"), f"{where}.bookOverUnder")
        found.setdefault((bet_type, period), {})[side] = (price, line)

    markets: list[FeedMarket] = []
    names = {"home": home.name, "away": away.name, "draw": "Draw", "over": "Over", "under": "Under"}
    layouts = {
        "ml": ("moneyline", ("home", "away")),
        "ml3way": ("1x2", ("home", "draw", "away")),
        "sp": ("spread", ("home", "away")),
        "ou": ("total", ("over", "under")),
    }
    for (bet_type, period), sides in sorted(found.items()):
        kind, outcomes = layouts[bet_type]
        line = _market_line(bet_type, sides, f"{bet_type} market")
        if line is None and bet_type in ("sp", "ou"):
            continue  # no side on offer carries a line: nothing to show until it returns
        selections = tuple(
            FeedSelection(outcome=o, name=names[o], odds=sides.get(o, (None, None))[0]) for o in outcomes
        )
        key = f"points-{period}-{bet_type}" + (f"@{line}" if line is not None else "")
        markets.append(FeedMarket(key=key, kind=kind, name=_market_name(kind, line), line=line, selections=selections))
    return tuple(markets)


def _market_line(
    bet_type: str, sides: Mapping[str, tuple[Decimal | None, Decimal | None]], where: str
) -> Decimal | None:
    """Spread: the home side's line (the away side must mirror it); total: the shared line."""
    if bet_type == "sp":
        home, away = sides.get("home", (None, None))[1], sides.get("away", (None, None))[1]
        if home is not None and away is not None and home != -away:
            raise MalformedEvent(f"{where}: home {home} and away {away} lines do not mirror each other")
        return home if home is not None else (-away if away is not None else None)
    if bet_type == "ou":
        over, under = sides.get("over", (None, None))[1], sides.get("under", (None, None))[1]
        if over is not None and under is not None and over != under:
            raise MalformedEvent(f"{where}: over {over} and under {under} lines differ")
        return over if over is not None else under
    return None


def _market_name(kind: str, line: Decimal | None) -> str:
    if kind == "spread":
        return f"Spread {line:+}"
    if kind == "total":
        return f"Total {line}"
    return {"moneyline": "Moneyline", "1x2": "Match result (1X2)"}[kind]


def parse_event(raw: Mapping[str, Any]) -> FeedEvent:
    """One event of the feed, or MalformedEvent with the reason."""
    external_id = _require(raw, "eventID", str, "event")
    sport_key = _require(raw, "sportID", str, "event")
    league_key = _require(raw, "leagueID", str, "event")
    teams = _require(raw, "teams", dict, "event")
    home, away = _team(teams, "home"), _team(teams, "away")
    status = _require(raw, "status", dict, "event")
    starts_at = _parse_time(status.get("startsAt"), "status.startsAt")
    state, ended = _status(status)

    home_score = away_score = None
    if state == "finished":
        results = raw.get("results")
        game = results.get("game") if isinstance(results, dict) else None
        try:
            home_score = _score(game["home"]["points"], "results.game.home.points")  # type: ignore[index]
            away_score = _score(game["away"]["points"], "results.game.away.points")  # type: ignore[index]
        except (KeyError, TypeError):
            # Final but not gradable: keep it live and closed; never a silent result.
            log.warning("feed.result_missing", event_id=external_id)
            state = "live"
    elif state == "live":
        for side in ("home", "away"):
            value = teams[side].get("score")
            if value is not None:
                score = _score(value, f"teams.{side}.score")
                home_score, away_score = (score, away_score) if side == "home" else (home_score, score)

    odds = raw.get("odds") or {}
    if not isinstance(odds, dict):
        raise MalformedEvent("event.odds is not an object")
    return FeedEvent(
        external_id=external_id,
        sport_key=sport_key,
        league_key=league_key,
        home=home,
        away=away,
        starts_at=starts_at,
        status=state,
        ended=ended,
        home_score=home_score,
        away_score=away_score,
        markets=_markets(odds, home, away),
    )
