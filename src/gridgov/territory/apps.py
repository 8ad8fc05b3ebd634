from django.apps import AppConfig


class TerritoryConfig(AppConfig):
    name = "gridgov.territory"
    label = "territory"

    def ready(self) -> None:
        from gridgov.territory import permissions  # noqa: F401  (declares the permissions)
