"""Who may do what in cases beyond the workflow's transition table (checked with core's `require`)."""

from django.utils.translation import gettext_lazy as _

from gridgov.accounts.roles import STAFF_ROLES, Role
from gridgov.core.principal import Permission, declare

# Staff who work on cases; the security and audit administrators do not (三权分立).
SUGGEST_ROLES = STAFF_ROLES - {Role.SECURITY_ADMIN, Role.AUDIT_ADMIN}

PERMISSIONS = declare(
    {
        "cases.suggest": Permission(
            frozenset(SUGGEST_ROLES), message=_("Only staff may ask for category suggestions.")
        ),
    }
)
