from django.apps import AppConfig


class RentalConfig(AppConfig):
    name = "gridgov.rental"
    verbose_name = "Rental housing 出租屋分类分级"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy

        from gridgov.core import notifications
        from gridgov.rental import permissions, receivers  # noqa: F401  (declares the permissions)
        from gridgov.rental.services import REMIND_KIND, STAR_RESULT_KIND, STAR_REVIEW_KIND
        from gridgov.territory.signals import grids_redrawn

        grids_redrawn.connect(receivers.grids_redrawn, dispatch_uid="rental.grids_redrawn")

        notifications.register_kind(
            REMIND_KIND,
            gettext_lazy(
                "%(grid)s: %(due)s rental houses are due for inspection in the next days, %(overdue)s are overdue."
            ),
            label=gettext_lazy("Rental inspections due"),
        )
        notifications.register_kind(STAR_RESULT_KIND, _star_result, label=gettext_lazy("Star rating result"))
        notifications.register_kind(
            STAR_REVIEW_KIND,
            gettext_lazy(
                "%(community)s: %(due)s star buildings or compounds are due for review, %(expired)s of them have run out."
            ),
            label=gettext_lazy("Star reviews due"),
        )


def _star_result(facts: dict) -> str:
    from django.utils.translation import gettext as _

    if facts.get("result") == "awarded":
        return _("%(site)s was awarded %(stars)s stars.") % facts
    if facts.get("result") == "withdrawn":
        return _("The stars of %(site)s were withdrawn: %(reason)s") % facts
    return _("The star application of %(site)s was refused: %(reason)s") % facts
