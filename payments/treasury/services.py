"""Treasury: a user's one virtual account, and crediting the transfers that arrive in it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass

import structlog
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, NotFound, ValidationFailed
from core.metrics import DEPOSITS_RECEIVED
from ledger.services import deposit_post
from payments.models import BankTransaction, VirtualAccount
from payments.topup.inbound import ng_phone_validate, refusals_counted
from payments.treasury.adapters import InboundDeposit, ProviderBadResponse, treasury_provider
from payments.treasury.crypto import bvn_encrypt
from payments.treasury.nuban import nuban_valid

log = structlog.get_logger(__name__)

_BVN = re.compile(r"^[0-9]{11}$")
_NAME = re.compile(r"^[^\W\d_]+(?:[ '\-.][^\W\d_]+)*$")


def _validate_name(value: str, field: str) -> str:
    value = value.strip()
    if not 1 <= len(value) <= 64 or not _NAME.match(value):
        raise ValidationFailed(f"{field} must be a name of letters.", code="invalid_name", details={"field": field})
    return value


def virtual_account_create(
    *, user_id: int, bvn: str, first_name: str, last_name: str, phone: str, email: str
) -> tuple[VirtualAccount, bool]:
    """The user's one static account: made through the provider the first time, then returned.

    Returns the account and whether it was made now. The provider call happens outside any
    database transaction and is repeatable (our reference is per user), so two requests racing
    get the same account from the provider and the unique user column keeps one row. The
    provider's account number must carry a valid NUBAN check digit, or nothing is saved.
    """
    if not isinstance(bvn, str) or not _BVN.match(bvn):
        raise ValidationFailed("The BVN is 11 digits.", code="invalid_bvn", details={"field": "bvn"})
    first_name = _validate_name(first_name, "first_name")
    last_name = _validate_name(last_name, "last_name")
    ng_phone_validate(phone)
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed("The email is not valid.", code="invalid_email", details={"field": "email"}) from None
    existing = VirtualAccount.objects.filter(user_id=user_id).first()
    if existing is not None:
        return existing, False

    with closing(treasury_provider()) as provider:
        made = provider.account_create(
            reference=f"tote-user-{user_id}",
            bvn=bvn,
            first_name=first_name,
            last_name=last_name,
            phone=phone,
            email=email,
        )
        provider_name = provider.name
    if not nuban_valid(bank_code=made.bank_code, account_number=made.account_number):
        log.error("treasury.bad_nuban", provider=provider_name, account=made.account_number, bank=made.bank_code)
        raise ProviderBadResponse(
            "The provider returned an account number whose check digit is wrong; nothing was saved.",
            code="provider_invalid_account",
            details={"account_number": made.account_number, "bank_code": made.bank_code},
        )
    try:
        with transaction.atomic(durable=True):
            account = VirtualAccount.objects.create(
                user_id=user_id,
                provider=provider_name,
                provider_reference=made.reference,
                account_number=made.account_number,
                account_name=made.account_name,
                bank_name=made.bank_name,
                bank_code=made.bank_code,
                first_name=first_name,
                last_name=last_name,
                phone=phone,
                email=email,
                bvn_encrypted=bvn_encrypt(bvn),
                bvn_last4=bvn[-4:],
            )
    except IntegrityError:
        existing = VirtualAccount.objects.filter(user_id=user_id).first()
        if existing is not None:
            return existing, False
        log.error("treasury.account_clash", provider=provider_name, account=made.account_number)
        raise ProviderBadResponse(
            "The provider returned an account number that belongs to someone else.", code="provider_account_clash"
        ) from None
    log.info("treasury.account_created", user=user_id, provider=provider_name, account=account.account_number)
    return account, True


def virtual_account_set_status(*, account_id: int, status: str) -> VirtualAccount:
    """Suspend, reactivate or close an account (operators). Deposits credit only active ones."""
    if status not in VirtualAccount.Status.values:
        raise ValidationFailed("Unknown account status.", code="invalid_status")
    VirtualAccount.objects.filter(pk=account_id).update(status=status, updated_at=timezone.now())
    return VirtualAccount.objects.get(pk=account_id)


@dataclass(frozen=True)
class DepositResult:
    record: BankTransaction | None  # None: a notification that is not a deposit (ignored)
    duplicate: bool
    ack: dict[str, object]


def deposit_receive(*, provider_name: str, body: bytes, headers: Mapping[str, str]) -> DepositResult:
    """A provider's signed deposit notification: record it and credit the wallet, once.

    Signature, body and account are checked before anything is written. The bank transaction
    row and the ledger credit (`bank_clearing` -> wallet, paying a receivable first, with its
    `balance.updated` event) commit together. The unique (provider, reference) makes a repeat,
    however concurrent, find the first row and credit nothing.
    """
    with closing(treasury_provider(provider_name)) as provider, refusals_counted(provider_name):
        deposit = provider.deposit_parse(body=body, headers=headers)
        if deposit is None:
            DEPOSITS_RECEIVED.labels(provider_name, "ignored").inc()
            return DepositResult(
                record=None, duplicate=False, ack=provider.deposit_ack(reference="", record_id=0, duplicate=False)
            )
        account = VirtualAccount.objects.filter(provider=provider_name, account_number=deposit.account_number).first()
        if account is None:
            raise NotFound(
                "No virtual account has this account number.",
                code="unknown_account",
                details={"account_number": deposit.account_number},
            )
        if account.status != VirtualAccount.Status.ACTIVE:
            raise Conflict(
                f"The account is {account.status}; nothing was credited.",
                code="account_not_active",
                details={"account_number": deposit.account_number},
            )
        if deposit.currency != account.currency:
            raise ValidationFailed(
                f"The account holds {account.currency}, not {deposit.currency}.",
                code="currency_mismatch",
                details={"currency": deposit.currency},
            )
        record, duplicate = _deposit_record(provider_name=provider_name, account=account, deposit=deposit)
        DEPOSITS_RECEIVED.labels(provider_name, "duplicate" if duplicate else "credited").inc()
        return DepositResult(
            record=record,
            duplicate=duplicate,
            ack=provider.deposit_ack(reference=deposit.reference, record_id=record.pk, duplicate=duplicate),
        )


def _deposit_record(
    *, provider_name: str, account: VirtualAccount, deposit: InboundDeposit
) -> tuple[BankTransaction, bool]:
    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():  # a savepoint: a duplicate must not abort the transaction
                record = BankTransaction.objects.create(
                    virtual_account=account,
                    user_id=account.user_id,
                    provider=provider_name,
                    reference=deposit.reference,
                    amount=deposit.amount,
                    currency=deposit.currency,
                    sender_name=deposit.sender_name[:255],
                    sender_account=deposit.sender_account[:32],
                    sender_bank=deposit.sender_bank[:128],
                    narration=deposit.narration[:255],
                    transaction_date=deposit.transaction_date,
                    payload=deposit.payload,
                )
        except IntegrityError:
            # Another delivery of the same transfer got here first (and has committed: the
            # unique index made this insert wait for it).
            first = BankTransaction.objects.get(provider=provider_name, reference=deposit.reference)
            if (first.virtual_account_id, first.amount) != (account.pk, deposit.amount):
                log.error(
                    "treasury.reference_reused",
                    provider=provider_name,
                    reference=deposit.reference,
                    first_amount=first.amount,
                    amount=deposit.amount,
                )
                raise Conflict(
                    "This reference was already credited with another account or amount.",
                    code="reference_mismatch",
                    details={"reference": deposit.reference},
                ) from None
            return first, True
        tx_id = deposit_post(
            user_id=account.user_id,
            currency=deposit.currency,
            amount=deposit.amount,
            provider=provider_name,
            reference=deposit.reference,
            rail="bank",
        )
        BankTransaction.objects.filter(pk=record.pk).update(ledger_transaction_id=tx_id)
        record.ledger_transaction_id = tx_id
    log.info(
        "treasury.deposit_credited",
        provider=provider_name,
        reference=deposit.reference,
        user=account.user_id,
        amount=deposit.amount,
    )
    return record, False
