"""The sportsbook catalogue: sports, leagues, competitors, events, markets and selections.

Events come from a feed (provider + external id, unique together) or from operators
(provider `manual`). Status fields are TextChoices with their allowed transitions beside them;
services move them by compare-and-set. Result and factor of a selection stay empty until the
settlement engine grades it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Mod
from django.db.models.lookups import Exact
from django.utils import timezone

MANUAL_PROVIDER = "manual"


class Transitions:
    """A status field's allowed moves, written beside its TextChoices: `TRANSITIONS[old]` is the
    set of statuses `old` may become. Services move statuses by compare-and-set after asking."""

    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {}

    @classmethod
    def can_transition(cls, old: str, new: str) -> bool:
        return new in cls.TRANSITIONS.get(old, frozenset())


class Sport(models.Model):
    key = models.CharField(max_length=64, unique=True, help_text="The feed's sport id, e.g. BASKETBALL.")
    name = models.CharField(max_length=128)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class League(models.Model):
    sport = models.ForeignKey(Sport, on_delete=models.PROTECT, related_name="leagues")
    key = models.CharField(max_length=64, unique=True, help_text="The feed's league id, e.g. NBA.")
    name = models.CharField(max_length=128)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Competitor(models.Model):
    """A team or a player."""

    sport = models.ForeignKey(Sport, on_delete=models.PROTECT, related_name="competitors")
    provider = models.CharField(max_length=32)
    external_id = models.CharField(max_length=128)
    name = models.CharField(max_length=128)
    short_name = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "external_id"], name="competitor_provider_external_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Event(Transitions, models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        LIVE = "live", "Live"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"
        POSTPONED = "postponed", "Postponed"
        ABANDONED = "abandoned", "Abandoned"

    # A finished result may still be corrected (scores change, result_version goes up) but the
    # status stays FINISHED; cancelled is final. Postponed and abandoned games may resume.
    TRANSITIONS = {
        Status.SCHEDULED: frozenset(
            {Status.LIVE, Status.FINISHED, Status.CANCELLED, Status.POSTPONED, Status.ABANDONED}
        ),
        Status.LIVE: frozenset({Status.FINISHED, Status.ABANDONED, Status.POSTPONED, Status.CANCELLED}),
        Status.POSTPONED: frozenset(
            {Status.SCHEDULED, Status.LIVE, Status.FINISHED, Status.CANCELLED, Status.ABANDONED}
        ),
        Status.ABANDONED: frozenset({Status.LIVE, Status.FINISHED, Status.CANCELLED}),
        Status.FINISHED: frozenset(),
        Status.CANCELLED: frozenset(),
    }
    # Where no more bets are taken and the markets close.
    CLOSED_STATUSES = frozenset({Status.FINISHED, Status.CANCELLED, Status.ABANDONED, Status.POSTPONED})

    provider = models.CharField(max_length=32)
    external_id = models.CharField(max_length=128)
    sport = models.ForeignKey(Sport, on_delete=models.PROTECT, related_name="events")
    league = models.ForeignKey(League, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    name = models.CharField(max_length=255)
    home = models.ForeignKey(Competitor, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    away = models.ForeignKey(Competitor, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    scheduled_start = models.DateTimeField()
    original_start = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The first scheduled start, kept when the event is rescheduled: bets were placed against it "
        "and the void window of a postponed or abandoned event runs from it.",
    )
    actual_start = models.DateTimeField(null=True, blank=True)
    home_score = models.IntegerField(null=True, blank=True)
    away_score = models.IntegerField(null=True, blank=True)
    result_version = models.PositiveIntegerField(
        default=0, help_text="Goes up each time a final result (or a correction of it) is recorded."
    )
    result_received_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    disrupted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the event was first postponed or abandoned (kept if it later finishes): such an event "
        "is void unless completed within VOID_AFTER_HOURS of its original start.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scheduled_start", "id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "external_id"], name="event_provider_external_unique"),
            models.CheckConstraint(
                condition=Q(home_score__isnull=True) | Q(home_score__gte=0), name="event_home_score_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(away_score__isnull=True) | Q(away_score__gte=0), name="event_away_score_non_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "scheduled_start"], name="event_status_start"),
            models.Index(fields=["league", "scheduled_start"], name="event_league_start"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def start_bets_placed_against(self) -> datetime:
        """The original scheduled start (the 48 h void window runs from it)."""
        return self.original_start or self.scheduled_start


class Market(Transitions, models.Model):
    class Kind(models.TextChoices):
        MONEYLINE = "moneyline", "Moneyline"
        ONE_X_TWO = "1x2", "1X2"
        SPREAD = "spread", "Spread"
        TOTAL = "total", "Total"
        OUTRIGHT = "outright", "Outright"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SUSPENDED = "suspended", "Suspended"
        CLOSED = "closed", "Closed"
        SETTLED = "settled", "Settled"
        VOID = "void", "Void"

    # Closed takes no more bets and waits for grading; settled may be settled again (a corrected
    # result); void is final.
    TRANSITIONS = {
        Status.OPEN: frozenset({Status.SUSPENDED, Status.CLOSED, Status.VOID}),
        Status.SUSPENDED: frozenset({Status.OPEN, Status.CLOSED, Status.VOID}),
        Status.CLOSED: frozenset({Status.SETTLED, Status.VOID}),
        Status.SETTLED: frozenset({Status.SETTLED, Status.VOID}),
        Status.VOID: frozenset(),
    }

    # The outcomes each kind of market offers.
    OUTCOMES: dict[str, frozenset[str]] = {
        Kind.MONEYLINE: frozenset({"home", "away"}),
        Kind.ONE_X_TWO: frozenset({"home", "draw", "away"}),
        Kind.SPREAD: frozenset({"home", "away"}),
        Kind.TOTAL: frozenset({"over", "under"}),
        Kind.OUTRIGHT: frozenset({"competitor"}),
    }

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="markets")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(
        max_length=128, help_text="Stable per event: the feed's market (and line), so a moved line is a new market."
    )
    name = models.CharField(max_length=128)
    line = models.DecimalField(
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Spread: the home side's handicap; total: the points line. May be a quarter line (x.25, x.75).",
    )
    paying_places = models.PositiveSmallIntegerField(default=1, help_text="Outrights: how many places pay.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    in_play = models.BooleanField(default=False, help_text="Takes bets while the event is live (after a delay).")
    operator_hold = models.BooleanField(
        default=False, help_text="Suspended by an operator: the feed does not reopen it."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["event_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "key"], name="market_event_key_unique"),
            models.CheckConstraint(
                condition=Q(line__isnull=True) | Q(Exact(Mod(F("line") * Value(4), Value(1)), Value(0))),
                name="market_line_quarter_points",
            ),
            models.CheckConstraint(condition=Q(paying_places__gte=1), name="market_paying_places_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.event_id})"


class Selection(Transitions, models.Model):
    class Outcome(models.TextChoices):
        HOME = "home", "Home"
        AWAY = "away", "Away"
        DRAW = "draw", "Draw"
        OVER = "over", "Over"
        UNDER = "under", "Under"
        COMPETITOR = "competitor", "Competitor"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SUSPENDED = "suspended", "Suspended"
        SETTLED = "settled", "Settled"
        VOID = "void", "Void"

    TRANSITIONS = {
        Status.OPEN: frozenset({Status.SUSPENDED, Status.SETTLED, Status.VOID}),
        Status.SUSPENDED: frozenset({Status.OPEN, Status.SETTLED, Status.VOID}),
        Status.SETTLED: frozenset({Status.SETTLED, Status.VOID}),
        Status.VOID: frozenset(),
    }

    class Result(models.TextChoices):
        """What grading decides (RULES.md); the factor multiplies the stake."""

        WON = "won", "Won"
        HALF_WON = "half_won", "Half won"
        PUSH = "push", "Push"
        VOID = "void", "Void"
        HALF_LOST = "half_lost", "Half lost"
        LOST = "lost", "Lost"

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="selections")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    competitor = models.ForeignKey(Competitor, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=128)
    odds = models.DecimalField(max_digits=10, decimal_places=4, help_text="Decimal odds.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # NULL, not "", until graded: "no result yet" must not read as a result.
    result = models.CharField(max_length=16, choices=Result.choices, null=True, blank=True)  # noqa: DJ001
    factor = models.DecimalField(
        max_digits=20,
        decimal_places=10,
        null=True,
        blank=True,
        help_text="The factor at the selection's odds to 10 places, for display. Money never reads it: a leg's "
        "exact factor is rebuilt from the result, the dead heat and the leg's own odds.",
    )
    # A dead heat (`tied` competitors share `places` paying places) pays odds * places / tied:
    # stored as the two counts, so the exact factor is rebuilt (10/3 has no finite decimal).
    dead_heat_tied = models.PositiveSmallIntegerField(null=True, blank=True)
    dead_heat_places = models.PositiveSmallIntegerField(null=True, blank=True)
    void_reason = models.CharField(max_length=16, blank=True, help_text="Why grading voided it (VOID only).")
    graded_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The event's result version the grade was made from."
    )
    placing = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Outrights: the finishing place.")
    graded_at = models.DateTimeField(null=True, blank=True)
    odds_updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["market_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["market", "outcome"], condition=~Q(outcome="competitor"), name="selection_market_outcome_unique"
            ),
            models.UniqueConstraint(
                fields=["market", "competitor"],
                condition=Q(outcome="competitor"),
                name="selection_market_competitor_unique",
            ),
            models.CheckConstraint(
                condition=Q(outcome="competitor", competitor__isnull=False) | ~Q(outcome="competitor"),
                name="selection_competitor_named",
            ),
            models.CheckConstraint(condition=Q(odds__gt=1), name="selection_odds_above_one"),
            models.CheckConstraint(
                condition=Q(dead_heat_tied__isnull=True, dead_heat_places__isnull=True)
                | Q(
                    result="won",
                    dead_heat_places__gte=1,
                    dead_heat_tied__gt=F("dead_heat_places"),
                ),
                name="selection_dead_heat_shares_places",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.odds}"

    @property
    def line(self) -> Decimal | None:
        """The line on this selection's side (RULES.md: `m = own + L - other`)."""
        market_line = self.market.line
        if market_line is None:
            return None
        if self.market.kind == Market.Kind.SPREAD and self.outcome == self.Outcome.AWAY:
            return -market_line
        return market_line
