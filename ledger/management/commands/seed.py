from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ledger.services import deposit_record
from users.models import User
from users.services import user_create

DEMO_PASSWORD = "tote-player-pass"  # noqa: S105 - demo and test users only


class Command(BaseCommand):
    help = "Make N test users (player1..N, password 'tote-player-pass') each with money; idempotent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--users", type=int, default=10)
        parser.add_argument("--amount", type=int, default=1_000_000, help="minor units per user and currency")
        parser.add_argument("--currency", action="append", help="repeatable; default NGN and USDC")
        parser.add_argument("--prefix", default="player")

    def handle(self, *args: Any, **options: Any) -> None:
        currencies = options["currency"] or ["NGN", "USDC"]
        made = 0
        for n in range(1, options["users"] + 1):
            username = f"{options['prefix']}{n}"
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_create(username=username, password=DEMO_PASSWORD, email=f"{username}@example.com")
                made += 1
            for currency in currencies:
                deposit_record(
                    user_id=user.pk,
                    currency=currency,
                    amount=options["amount"],
                    provider="seed",
                    reference=f"{username}:{currency}",
                )
        self.stdout.write(
            self.style.SUCCESS(f"{made} new user(s); {options['users']} funded in {', '.join(currencies)}")
        )
