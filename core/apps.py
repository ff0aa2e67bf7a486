from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform"

    def ready(self) -> None:
        from core import logging as core_logging
        from core import schema  # noqa: F401 - registers the OpenAPI extensions

        core_logging.configure()
