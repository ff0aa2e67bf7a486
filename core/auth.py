from __future__ import annotations

from rest_framework.request import Request

from core.errors import ApplicationError


def request_user_id(request: Request) -> int:
    """The id of the authenticated caller; views reach this only behind IsAuthenticated."""
    pk = request.user.pk if request.user.is_authenticated else None
    if pk is None:
        raise ApplicationError("Authentication required.", code="not_authenticated", status_code=401)
    return int(pk)
