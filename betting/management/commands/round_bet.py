from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from betting.rounds.services import round_bet_place
from core.errors import ApplicationError
from ledger.currencies import format_amount
from users.models import User


class Command(BaseCommand):
    help = "Place an Up/Down bet for a user on the round taking bets (or --code)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--user", required=True, help="username or id")
        parser.add_argument("--side", required=True, choices=["UP", "DOWN"], type=str.upper)
        parser.add_argument("--amount", required=True, type=int, help="minor units (micro-USDC by default)")
        parser.add_argument("--code", help="YYYYMMDD; default the round taking bets")
        parser.add_argument("--key", help="idempotency key; repeating it places the bet once")

    def handle(self, *args: Any, **options: Any) -> None:
        ident = options["user"]
        user = User.objects.filter(pk=int(ident)).first() if ident.isdigit() else None
        user = user or User.objects.filter(username=ident).first()
        if user is None:
            raise CommandError(f"no user {ident!r}")
        try:
            bet = round_bet_place(
                user_id=user.pk,
                side=options["side"],
                amount=options["amount"],
                idempotency_key=options["key"] or f"cli:{uuid.uuid4().hex}",
                code=options["code"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"bet {bet.pk}: {user.username} {bet.side} {format_amount(bet.amount, bet.currency)} "
                f"on round {bet.round.code}"
            )
        )
