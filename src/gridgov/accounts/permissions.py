"""Who may do what in accounts (三权分立: users by the system administrator, roles and unlocking by the
security administrator, the audit log by the audit administrator). Checked with core's `require`."""

from gridgov.accounts.roles import Role
from gridgov.core.principal import declare

PERMISSIONS = declare(
    {
        "user.create": {Role.ADMIN},
        "user.change": {Role.ADMIN},
        "organisation.create": {Role.ADMIN},
        "organisation.change": {Role.ADMIN},
        # The lockout and login records of the accounts (the security administrator's own screens).
        "security.login_records": {Role.SECURITY_ADMIN},
        # Areas by name or code, to name the area of a membership, an organisation or a PII grant.
        "area.pick": {Role.ADMIN, Role.SECURITY_ADMIN},
        "membership.grant": {Role.SECURITY_ADMIN},
        "membership.revoke": {Role.SECURITY_ADMIN},
        "user.unlock": {Role.SECURITY_ADMIN},
        "totp.reset": {Role.SECURITY_ADMIN},
        "audit.read": {Role.AUDIT_ADMIN},
    }
)
