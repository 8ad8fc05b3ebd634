"""Who may do what in the territory (checked with core's `require`)."""

from django.utils.translation import gettext_lazy as _

from gridgov.accounts.roles import Role
from gridgov.core.principal import Permission, declare

ONLY_ADMIN = _("Only a system administrator may change the territory.")
PROPOSE_ROLES = (Role.ADMIN, Role.LEADER, Role.SUBDISTRICT_STAFF, Role.COMMUNITY_STAFF)
LAYER_READ_ROLES = (Role.ADMIN, Role.LEADER, Role.SUBDISTRICT_STAFF, Role.COMMUNITY_STAFF)

PERMISSIONS = declare(
    {
        "territory.area.create": Permission(frozenset({Role.ADMIN}), message=ONLY_ADMIN),
        "territory.area.update": Permission(frozenset({Role.ADMIN}), message=ONLY_ADMIN),
        "territory.proposal.propose": Permission(
            frozenset(PROPOSE_ROLES), message=_("You may not propose a re-division of grids.")
        ),
        # Adopting and discarding a proposal: the transition table (territory/workflow.py).
        "territory.layer.import": Permission(
            frozenset({Role.ADMIN}),
            message=_("Only a system administrator may import a department's grid layer."),
        ),
        # Department layers are not for every user: others are told there is nothing here.
        "territory.layer.read": Permission(frozenset(LAYER_READ_ROLES), hide=True),
    }
)
