from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "gridgov.cases"
    label = "cases"

    def ready(self) -> None:
        from gridgov.cases import permissions  # noqa: F401  (declares the permissions)
