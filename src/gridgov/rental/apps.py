from django.apps import AppConfig


class RentalConfig(AppConfig):
    name = "gridgov.rental"
    verbose_name = "Rental housing 出租屋分类分级"

    def ready(self) -> None:
        from gridgov.rental import permissions  # noqa: F401  (declares the permissions)
