from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "gridgov.core"
    label = "core"
    verbose_name = "GridGov core"

    def ready(self) -> None:
        from gridgov.core import outbox  # noqa: F401  (registers the built-in `log` channel)
