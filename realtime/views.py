"""The live bet-ticket page: a template and plain JavaScript that talk to the public API."""

from __future__ import annotations

from django.views.generic import TemplateView


class TicketsPageView(TemplateView):
    template_name = "realtime/tickets.html"
