"""Admin registrations of the betting app."""

import betting.rounds.admin  # noqa: F401  (Up/Down rounds)
