from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "gridgov.accounts"
    label = "accounts"

    def ready(self) -> None:
        from gridgov.accounts import receivers
        from gridgov.territory.signals import grids_redrawn

        grids_redrawn.connect(receivers.grids_redrawn, dispatch_uid="accounts.grids_redrawn")
        from gridgov.accounts import audit, permissions  # noqa: F401  (declares the permissions)
        from gridgov.accounts.scope import load_memberships
        from gridgov.core import principal

        principal.register_loader(load_memberships)
        principal.register_denial_writer(audit.write_denial)
        from gridgov.accounts.models import User
        from gridgov.core import pii

        pii.register_resealed(User)  # users' phones and TOTP secrets take part in `rotate_pii_keys`
        from gridgov.accounts import posts

        posts.register()  # AB岗: notice kinds, and notices for a colleague on leave go to their backup
