"""Place a bet for a user from a script: a single at the current odds, or a parlay / system."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from betting.models import BetSlip
from betting.odds import OddsFormatError, parse_decimal
from betting.services import LegRequest, bet_place
from core.errors import ApplicationError
from ledger.currencies import format_amount
from users.models import User


class Command(BaseCommand):
    help = "Place a bet: --user U --selection S [--selection S2 ...] --stake N [--currency C] [--system 2/3]."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--user", required=True, help="username or id")
        parser.add_argument("--selection", required=True, type=int, action="append", help="repeat for a parlay")
        parser.add_argument("--stake", required=True, type=int, help="minor units")
        parser.add_argument("--currency", help="default: the user's default currency")
        parser.add_argument("--system", help="k/n for a system bet, e.g. 2/3")
        parser.add_argument("--odds", action="append", help="decimal odds seen, one per selection (policy better)")
        parser.add_argument("--key", help="idempotency key; a rerun with the same key places nothing new")

    def handle(self, *args: Any, **options: Any) -> None:
        ref = options["user"]
        user = User.objects.filter(pk=int(ref)).first() if ref.isdigit() else User.objects.filter(username=ref).first()
        if user is None:
            raise CommandError(f"no user {ref!r}")
        selections: list[int] = options["selection"]
        odds: list[str] = options["odds"] or []
        if odds and len(odds) != len(selections):
            raise CommandError("give --odds once per --selection, or not at all")
        slip_type = (
            BetSlip.Type.SYSTEM
            if options["system"]
            else (BetSlip.Type.PARLAY if len(selections) > 1 else BetSlip.Type.SINGLE)
        )
        try:
            legs = [
                LegRequest(selection_id=s, odds=parse_decimal(odds[i]) if odds else None)
                for i, s in enumerate(selections)
            ]
            placement = bet_place(
                user_id=user.pk,
                slip_type=slip_type,
                stake=options["stake"],
                currency=options["currency"] or user.default_currency,
                legs=legs,
                idempotency_key=options["key"] or f"cli:{uuid.uuid4().hex}",
                accept_odds=BetSlip.AcceptOdds.BETTER if odds else BetSlip.AcceptOdds.ANY,
                system=options["system"],
            )
        except OddsFormatError as exc:
            raise CommandError(str(exc)) from None
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message} {exc.details or ''}".strip()) from None
        slip = placement.slip
        verb = "placed" if placement.created else "already placed"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} slip {slip.pk} ({slip.type}, {slip.status}): stake "
                f"{format_amount(slip.stake, slip.currency)}, pays up to "
                f"{format_amount(slip.potential_payout, slip.currency)}"
            )
        )
