from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from users.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "default_currency", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", "default_currency"]
    search_fields = ["username", "email", "first_name", "last_name"]
    fieldsets = (*BaseUserAdmin.fieldsets, ("Betting", {"fields": ("default_currency",)}))  # type: ignore[misc]
