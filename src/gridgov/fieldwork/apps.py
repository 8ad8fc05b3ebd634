from django.apps import AppConfig


class FieldworkConfig(AppConfig):
    name = "gridgov.fieldwork"
    verbose_name = "Field work 巡查"

    def ready(self) -> None:
        from gridgov.fieldwork import permissions  # noqa: F401  (declares the permissions)
