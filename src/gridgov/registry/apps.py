from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "gridgov.registry"
    verbose_name = "Registry 实有人口、房屋、单位"

    def ready(self) -> None:
        from gridgov.registry import receivers
        from gridgov.territory.signals import grids_redrawn

        grids_redrawn.connect(receivers.grids_redrawn, dispatch_uid="registry.grids_redrawn")
        from gridgov.core import pii, principal
        from gridgov.registry import permissions  # noqa: F401  (declares the permissions)
        from gridgov.registry.pii import load_pii_policy, log_access

        principal.register_loader(load_pii_policy, part="pii")
        pii.register_access_logger(log_access)
        from gridgov.registry.selectors import population
        from gridgov.territory.selectors import register_population

        register_population(population)  # the population figures of territory's staffing page
