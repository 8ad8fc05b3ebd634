from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "gridgov.cases"
    label = "cases"

    def ready(self) -> None:
        from gridgov.cases import receivers
        from gridgov.territory.signals import grids_redrawn

        grids_redrawn.connect(receivers.grids_redrawn, dispatch_uid="cases.grids_redrawn")
        from gridgov.cases import permissions  # noqa: F401  (declares the permissions)
        from gridgov.cases.models import Case
        from gridgov.core import pii

        pii.register_resealed(Case)  # reporters' phones take part in `rotate_pii_keys`
