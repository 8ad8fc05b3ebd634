from django.apps import AppConfig


class RentalConfig(AppConfig):
    name = "gridgov.rental"
    verbose_name = "Rental housing 出租屋分类分级"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy

        from gridgov.core import notifications
        from gridgov.rental import permissions, receivers  # noqa: F401  (declares the permissions)
        from gridgov.rental.services import REMIND_KIND
        from gridgov.territory.signals import grids_redrawn

        grids_redrawn.connect(receivers.grids_redrawn, dispatch_uid="rental.grids_redrawn")

        notifications.register_kind(
            REMIND_KIND,
            gettext_lazy(
                "%(grid)s: %(due)s rental houses are due for inspection in the next days, %(overdue)s are overdue."
            ),
            label=gettext_lazy("Rental inspections due"),
        )
