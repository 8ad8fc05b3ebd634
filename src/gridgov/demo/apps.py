from django.apps import AppConfig


def demo_password() -> str | None:
    """The demo password while the demo's logins are in the database (the login page shows it)."""
    from gridgov.demo.services import DEMO_PASSWORD, demo_users

    return DEMO_PASSWORD if demo_users().exists() else None


class DemoConfig(AppConfig):
    name = "gridgov.demo"
    label = "demo"

    def ready(self) -> None:
        from gridgov.accounts.selectors import register_demo_probe

        register_demo_probe(demo_password)
