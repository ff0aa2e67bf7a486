from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from ledger.currencies import format_amount, get_currency, validate_amount
from ledger.services import deposit_record
from users.models import User


class Command(BaseCommand):
    help = "Credit a user's wallet as a bank deposit (demos and operators)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--user", required=True, help="username or id")
        parser.add_argument("--amount", required=True, type=int, help="minor units, e.g. 150000 = NGN 1,500.00")
        parser.add_argument("--currency", default="NGN")
        parser.add_argument("--reference", help="a unique reference; repeating it credits once")

    def handle(self, *args: Any, **options: Any) -> None:
        ident = options["user"]
        user = User.objects.filter(pk=int(ident)).first() if ident.isdigit() else None
        user = user or User.objects.filter(username=ident).first()
        if user is None:
            raise CommandError(f"no user {ident!r}")
        try:
            get_currency(options["currency"])
            amount = validate_amount(options["amount"])
            tx = deposit_record(
                user_id=user.pk,
                currency=options["currency"],
                amount=amount,
                provider="operator",
                reference=options["reference"] or uuid.uuid4().hex,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"credited {format_amount(amount, options['currency'])} to {user.username} (transaction {tx.pk})"
            )
        )
