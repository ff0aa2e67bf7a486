from __future__ import annotations

from django.contrib import admin

from realtime.models import OutboxEvent


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ["seq", "type", "user", "topic", "created_at", "published_at"]
    list_filter = ["type", ("published_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id", "user__username", "topic"]
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]
