from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from realtime.models import OutboxEvent


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ["seq", "type", "user", "topic", "created_at", "claimed_at", "lease_until", "published_at"]
    list_filter = ["type", ("published_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id", "user__username", "topic"]
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]
    actions = ["release_lease"]

    @admin.action(description="Release the lease of unpublished events (the next relay cycle retries them)")
    def release_lease(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        count = queryset.filter(published_at__isnull=True).update(lease_until=None)
        self.message_user(
            request, f"{count} event(s) released; the sweeper publishes them within seconds.", messages.SUCCESS
        )


# Cashout offers and targets register themselves.
import realtime.cashout.admin  # noqa: E402,F401
