from __future__ import annotations

from django.db.models import QuerySet

from core.errors import NotFound
from payments.models import TopUp


def topups_for_user(*, user_id: int) -> QuerySet[TopUp]:
    return TopUp.objects.filter(user_id=user_id).order_by("-id")


def topup_for_user(*, user_id: int, topup_id: int) -> TopUp:
    """The user's own top-up; anyone else's is a 404, as if it did not exist."""
    topup = TopUp.objects.filter(user_id=user_id, pk=topup_id).first()
    if topup is None:
        raise NotFound("No such top-up.", details={"topup": topup_id})
    return topup
