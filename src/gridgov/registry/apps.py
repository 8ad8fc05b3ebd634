from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "gridgov.registry"
    verbose_name = "Registry 实有人口、房屋、单位"

    def ready(self) -> None:
        from gridgov.registry import receivers
        from gridgov.territory.signals import grids_redrawn

        grids_redrawn.connect(receivers.grids_redrawn, dispatch_uid="registry.grids_redrawn")
