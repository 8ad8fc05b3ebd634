from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "gridgov.cases"
    label = "cases"

    def ready(self) -> None:
        from gridgov.cases import receivers
        from gridgov.territory.signals import grids_redrawn

        grids_redrawn.connect(receivers.grids_redrawn, dispatch_uid="cases.grids_redrawn")
