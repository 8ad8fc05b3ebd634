"""AB岗: a person's backup (B) for their post, and leave periods during which B stands in for A.

While A is on leave (a `Leave` whose period contains now and that names B):

- B's principal also holds A's staff memberships, marked `on_behalf_of=A` (the accounts loader in
  accounts/scope.py reads them in the same membership query), so every permission check, every
  selector and every workflow rule lets B see and act on what A could, for A's areas and roles only,
  and only for the leave's period;
- notices written for A go to B, saying on whose behalf (core/notifications.py calls `redirects`, which
  AccountsConfig.ready() registers);
- the case to-do list shows A's to-dos to B marked 代班 (cases/selectors.py).

When the leave ends (or is ended early) the period no longer contains now, so the next request of B no
longer carries A's memberships and new notices for A reach A again. The notices B has not read yet for A
and that still need action (core.notifications.register_actionable: a case still open) go back to A: at
once when the leave is ended early, within a minute (the sweep in accounts/tasks.py) when it runs out.
B can be changed during a leave (`change_backup`): the to-dos follow at once, and the notices the old B
has not read yet for A move to the new B.

Rules that keep it narrow: B is a colleague (a staff membership in one of A's communities or A's
organisation), not A, not an administrator (三权分立: administrator roles are never delegated), and not
on leave during A's leave; A is not standing in for anyone during their own leave; A's leaves never
overlap. Who may set them: A, or A's manager (community or subdistrict staff, or a leader, whose area
holds one of A's posts). Every change is written to the security audit log and told to B.

Reads (`post_of`, `colleagues`) and writes (`set_backup`, `record_leave`, `change_backup`, `end_leave`,
`hand_back_due`) live here
together, one module for one feature: the writes are one transaction each, as in services.py.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridgov.accounts.audit import record_audit
from gridgov.accounts.models import AuditEventType, Backup, Leave, Membership, User
from gridgov.accounts.roles import ADMIN_ROLES, STAFF_ROLES, Role
from gridgov.core import notifications
from gridgov.core.errors import Conflict, NotFound, ValidationFailed
from gridgov.core.principal import Permission, Principal, declare, forget, principal_for, require
from gridgov.territory import paths

# The roles whose work B takes over: the staff roles, never an administrator's (三权分立).
DELEGABLE_ROLES = frozenset(STAFF_ROLES - ADMIN_ROLES)
MANAGER_ROLES = (Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF, Role.LEADER)
MAX_LEAVE = dt.timedelta(days=366)
HISTORY = dt.timedelta(days=60)  # ended leaves listed with a post


# --- who stands in for whom, now ---------------------------------------------------------------------
def active_leaves(at: dt.datetime | None = None) -> QuerySet[Leave]:
    at = at or timezone.now()
    return Leave.objects.filter(starts_at__lte=at, ends_at__gt=at)


def delegated_memberships(user_id: int, at: dt.datetime | None = None) -> Q:
    """The memberships a user holds for others right now (a condition for the loader's one query)."""
    absent = active_leaves(at).filter(backup_id=user_id).values("user_id")
    return Q(user_id__in=absent, role__in=DELEGABLE_ROLES)


def redirects(recipient_ids: set[int]) -> dict[int, tuple[int, str]]:
    """{absent user id: (id of the one standing in, the absent user's name)} among the recipients (the
    resolver core/notifications.py calls for every notice written now)."""
    rows = active_leaves().filter(user_id__in=recipient_ids).select_related("user")
    return {leave.user_id: (leave.backup_id, _name(leave.user)) for leave in rows}


def _name(user: User) -> str:
    return user.display_name or user.username


# --- who may set a post's backup and leave -----------------------------------------------------------
def _post_paths(user_id: int) -> list[str]:
    """Where the user's staff posts are: the areas of their staff memberships and of their organisations."""
    rows = Membership.objects.filter(user_id=user_id, role__in=DELEGABLE_ROLES).values_list(
        "area__path", "organisation__area__path"
    )
    return sorted({p for row in rows for p in row if p})


def _may_manage(principal: Principal, target) -> bool:
    if not isinstance(target, User):
        return False
    if principal.user_id == target.pk:
        return True
    manager_paths = [p for role in MANAGER_ROLES for p in principal.paths.get(role, ())]
    return any(paths.is_within(post, m) for post in _post_paths(target.pk) for m in manager_paths)


declare(
    {
        "accounts.post.manage": Permission(
            None,
            check=_may_manage,
            message=gettext_lazy(
                "Only the person themselves or their manager may set their backup and leave."
            ),
            hide=True,
        ),
    }
)


def _target(actor, user_id: int, request: HttpRequest | None, *, lock: bool = False) -> User:
    qs = User.objects.select_for_update() if lock else User.objects
    target = qs.filter(pk=user_id, is_active=True).first()
    require(
        actor, "accounts.post.manage", target if target is not None else ("user", user_id), request=request
    )
    assert target is not None  # (require refused None above)
    return target


# --- reads -------------------------------------------------------------------------------------------
def colleagues(target: User) -> QuerySet[User]:
    """Who may be the user's backup: active users with a staff membership in one of the user's
    communities (or in the user's organisation), not the user, not an administrator."""
    mine = Membership.objects.filter(user_id=target.pk, role__in=DELEGABLE_ROLES)
    q = Q(pk__in=[])
    for path in {
        paths.community_path(p) for p in mine.exclude(area=None).values_list("area__path", flat=True)
    }:
        q |= Q(area__path__startswith=path)
    orgs = list(mine.exclude(organisation=None).values_list("organisation_id", flat=True))
    if orgs:
        q |= Q(organisation_id__in=orgs)
    staff = Membership.objects.filter(q, role__in=DELEGABLE_ROLES).values("user_id")
    admins = Membership.objects.filter(role__in=ADMIN_ROLES).values("user_id")
    return (
        User.objects.filter(pk__in=staff, is_active=True)
        .exclude(pk=target.pk)
        .exclude(pk__in=admins)
        .order_by("display_name", "username")
    )


def post_of(actor, user_id: int, *, request: HttpRequest | None = None) -> dict:
    """A user's post: their standing backup, their leaves (current, coming and of the last weeks), whom
    they stand in for, and who may be their backup. The user themselves or their manager; else 404."""
    target = _target(actor, user_id, request)
    now = timezone.now()
    backup = Backup.objects.filter(user=target).select_related("backup").first()
    leaves = (
        Leave.objects.filter(user=target, ends_at__gt=now - HISTORY)
        .select_related("user", "backup")
        .order_by("-starts_at", "-id")
    )
    covering = (
        Leave.objects.filter(backup=target, ends_at__gt=now)
        .select_related("user", "backup")
        .order_by("starts_at", "id")
    )
    return {
        "user": target,
        "backup": backup.backup if backup is not None else None,
        "on_leave": next((x for x in leaves if x.starts_at <= now < x.ends_at), None),
        "leaves": [_leave_state(x, now) for x in leaves],
        "covering": [_leave_state(x, now) for x in covering],
        "candidates": list(colleagues(target)[:200]),
        "may_manage_others": principal_for(actor).has_role(*MANAGER_ROLES),
    }


def _leave_state(leave: Leave, now: dt.datetime) -> Leave:
    """The leave with `state` set: planned, active, over, or cancelled (ended before it began)."""
    if leave.ended_at is not None and leave.ends_at <= leave.starts_at:
        state = "cancelled"
    elif leave.ends_at <= now:
        state = "over"
    elif leave.starts_at <= now:
        state = "active"
    else:
        state = "planned"
    leave.state = state  # type: ignore[attr-defined]  # read by the API schema
    return leave


# --- writes ------------------------------------------------------------------------------------------
def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": field, "message": message}])


def _when(value: dt.datetime) -> str:
    return date_format(timezone.localtime(value), "DATETIME_FORMAT")


def _check_backup(target: User, backup_id: int | None, field: str = "backup_id") -> User:
    if backup_id is None:
        raise _invalid(field, _("Choose the colleague who stands in (B)."))
    if backup_id == target.pk:
        raise _invalid(field, _("A person cannot be their own backup."))
    backup = colleagues(target).filter(pk=backup_id).first()
    if backup is None:
        raise _invalid(
            field, _("The backup must be an active staff colleague of the same community or organisation.")
        )
    return backup


def _require_post(target: User) -> None:
    if not Membership.objects.filter(user=target, role__in=DELEGABLE_ROLES).exists():
        raise _invalid("user_id", _("Only staff posts have a backup (AB岗)."))


def _audit(actor, request, object_type: str, object_id, detail: dict) -> None:
    record_audit(
        AuditEventType.DATA_CHANGE,
        user=actor,
        request=request,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )


@transaction.atomic
def set_backup(request: HttpRequest | None, *, actor, user_id: int, backup_id: int | None) -> dict:
    """Set (or, with None, clear) the user's standing backup."""
    target = _target(actor, user_id, request, lock=True)
    _require_post(target)
    current = Backup.objects.filter(user=target).first()
    if backup_id is None:
        if current is not None:
            current.delete()
            _audit(actor, request, "backup", target.pk, {"user": target.username, "backup": None})
        return post_of(actor, user_id, request=request)
    backup = _check_backup(target, backup_id)
    if current is not None and current.backup_id == backup.pk:
        return post_of(actor, user_id, request=request)
    Backup.objects.update_or_create(user=target, defaults={"backup": backup, "set_by": actor})
    _audit(actor, request, "backup", target.pk, {"user": target.username, "backup": backup.username})
    notifications.notify([backup], "accounts.backup_set", {"name": _name(target)}, target)
    return post_of(actor, user_id, request=request)


def _overlapping(qs: QuerySet[Leave], starts_at: dt.datetime, ends_at: dt.datetime) -> Leave | None:
    return qs.filter(starts_at__lt=ends_at, ends_at__gt=starts_at).order_by("starts_at").first()


def _check_free(target: User, backup: User, starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    """B can stand in for the target from `starts_at` to `ends_at`: not on leave then, and not standing
    in for someone other than the target then."""
    clash = _overlapping(Leave.objects.filter(user=backup), starts_at, ends_at)
    if clash is not None:
        raise _invalid(
            "backup_id",
            _("%(name)s is on leave from %(start)s to %(end)s; choose another backup.")
            % {"name": _name(backup), "start": _when(clash.starts_at), "end": _when(clash.ends_at)},
        )
    others = Leave.objects.filter(backup=backup).exclude(user=target).select_related("user")
    clash = _overlapping(others, starts_at, ends_at)
    if clash is not None:
        raise _invalid(
            "backup_id",
            _("%(name)s already stands in for %(other)s from %(start)s to %(end)s; choose another backup.")
            % {
                "name": _name(backup),
                "other": _name(clash.user),
                "start": _when(clash.starts_at),
                "end": _when(clash.ends_at),
            },
        )


@transaction.atomic
def record_leave(
    request: HttpRequest | None,
    *,
    actor,
    user_id: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    backup_id: int | None = None,
    note: str = "",
) -> Leave:
    """Record a leave of the user: from `starts_at` to `ends_at` their to-dos and notices go to the
    backup (the standing one when none is given)."""
    target = _target(actor, user_id, request, lock=True)
    _require_post(target)
    now = timezone.now()
    if ends_at <= starts_at:
        raise _invalid("ends_at", _("The leave must end after it starts."))
    if ends_at <= now:
        raise _invalid("ends_at", _("This leave would be over already; enter when it ends."))
    if ends_at - starts_at > MAX_LEAVE:
        raise _invalid("ends_at", _("A leave lasts at most a year; record a longer absence in parts."))
    if backup_id is None:
        standing = Backup.objects.filter(user=target).values_list("backup_id", flat=True).first()
        if standing is None:
            raise _invalid("backup_id", _("Set a backup (B) first, or choose one for this leave."))
        backup_id = standing
    backup = _check_backup(target, backup_id)
    # Both people's rows are locked (in id order) so that two leaves recorded at once see each other.
    list(User.objects.select_for_update().filter(pk__in=[target.pk, backup.pk]).order_by("pk"))
    clash = _overlapping(Leave.objects.filter(user=target), starts_at, ends_at)
    if clash is not None:
        raise _invalid(
            "starts_at",
            _("%(name)s is already on leave from %(start)s to %(end)s; the periods must not overlap.")
            % {"name": _name(target), "start": _when(clash.starts_at), "end": _when(clash.ends_at)},
        )
    clash = _overlapping(Leave.objects.filter(backup=target).select_related("user"), starts_at, ends_at)
    if clash is not None:
        raise _invalid(
            "starts_at",
            _(
                "%(name)s stands in for %(other)s from %(start)s to %(end)s; change %(other)s's backup "
                "for that leave first."
            )
            % {
                "name": _name(target),
                "other": _name(clash.user),
                "start": _when(clash.starts_at),
                "end": _when(clash.ends_at),
            },
        )
    _check_free(target, backup, starts_at, ends_at)
    leave = Leave.objects.create(
        user=target, backup=backup, starts_at=starts_at, ends_at=ends_at, note=note.strip(), created_by=actor
    )
    _audit(
        actor,
        request,
        "leave",
        leave.pk,
        {
            "user": target.username,
            "backup": backup.username,
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
        },
    )
    facts = {"name": _name(target), "start": _when(starts_at), "end": _when(ends_at)}
    notifications.notify([backup], "accounts.leave_cover", facts, target)
    forget(actor)
    return _leave_state(leave, now)


def _locked_leave(leave_id: int) -> Leave:
    """The leave, its row locked until the transaction ends (two changes at once: one after the other).
    The people are read after the lock: a locking query that joins them would, on PostgreSQL, drop the
    row another transaction has just given a new backup (the re-check sees the old joined row)."""
    if not list(
        Leave.objects.select_for_update(of=("self",)).filter(pk=leave_id).values_list("pk", flat=True)
    ):
        raise NotFound(_("No such leave."))
    return Leave.objects.select_related("user", "backup").get(pk=leave_id)


@transaction.atomic
def change_backup(request: HttpRequest | None, *, actor, leave_id: int, backup_id: int) -> Leave:
    """Change who stands in during a leave that is planned or under way. From now on A's to-dos,
    permissions and notices go to the new B, and the notices the old B has not read yet for A move to
    the new B; the old B loses them all at once (the read ones stay with who read them)."""
    leave = _locked_leave(leave_id)
    _target(actor, leave.user_id, request)
    now = timezone.now()
    if leave.ends_at <= now or leave.ended_at is not None:
        raise Conflict(_("This leave is over already; its backup can no longer be changed."))
    backup = _check_backup(leave.user, backup_id)
    if backup.pk == leave.backup_id:
        return _leave_state(leave, now)
    old = leave.backup
    # The people's rows in id order, as record_leave locks them: a leave recorded at once sees this one.
    list(User.objects.select_for_update().filter(pk__in=[leave.user_id, backup.pk]).order_by("pk"))
    _check_free(leave.user, backup, max(now, leave.starts_at), leave.ends_at)
    leave.backup = backup
    leave.save(update_fields=["backup"])
    moved = 0
    if leave.starts_at <= now:
        moved = notifications.pass_on(
            meant_for=leave.user_id, holder=old.pk, to=backup.pk, since=leave.starts_at
        )
    _audit(
        actor,
        request,
        "leave",
        leave.pk,
        {"user": leave.user.username, "backup": backup.username, "before": old.username, "notices": moved},
    )
    facts = {"name": _name(leave.user), "start": _when(leave.starts_at), "end": _when(leave.ends_at)}
    notifications.notify([backup], "accounts.leave_cover", facts, leave.user)
    notifications.notify(
        [old], "accounts.cover_moved", {"name": _name(leave.user), "backup": _name(backup)}, leave.user
    )
    forget(actor)
    return _leave_state(leave, now)


def _hand_back(leave: Leave, now: dt.datetime) -> int:
    """The leave is over: the notices B has not read yet for A and that still need action go back to A
    (as A's own); those about things already done stay with B. Returns how many went back."""
    moved = 0
    if leave.starts_at < leave.ends_at:  # it took effect
        moved = notifications.pass_on(
            meant_for=leave.user_id,
            holder=leave.backup_id,
            to=leave.user_id,
            since=leave.starts_at,
            until=leave.ends_at,
        )
    leave.handed_back_at = now
    leave.save(update_fields=["handed_back_at"])
    return moved


def hand_back_due(now: dt.datetime | None = None, limit: int = 500) -> int:
    """The periodic sweep (accounts/tasks.py): for the leaves that ran out, hand A's notices back (one
    transaction per leave). Returns how many notices went back."""
    now = now or timezone.now()
    due = Leave.objects.filter(ends_at__lte=now, handed_back_at__isnull=True).order_by("ends_at", "pk")
    moved = 0
    for pk in list(due.values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            leave = (
                Leave.objects.select_for_update(of=("self",))
                .filter(pk=pk, handed_back_at__isnull=True)
                .first()
            )
            if leave is not None:
                moved += _hand_back(leave, now)
    return moved


@transaction.atomic
def end_leave(request: HttpRequest | None, *, actor, leave_id: int) -> Leave:
    """End a leave now (A is back early) or cancel one that has not begun: from now on A's to-dos,
    permissions and notices are A's again, and the notices B has not read yet for A and that still
    need action are A's again too."""
    leave = _locked_leave(leave_id)
    _target(actor, leave.user_id, request)
    now = timezone.now()
    if leave.ends_at <= now or leave.ended_at is not None:
        raise Conflict(_("This leave is over already."))
    leave.ends_at = max(now, leave.starts_at)
    leave.ended_at, leave.ended_by = now, actor
    leave.save(update_fields=["ends_at", "ended_at", "ended_by"])
    _hand_back(leave, now)
    _audit(actor, request, "leave", leave.pk, {"user": leave.user.username, "ended_at": now.isoformat()})
    notifications.notify([leave.backup], "accounts.leave_ended", {"name": _name(leave.user)}, leave.user)
    forget(actor)
    return _leave_state(leave, now)


@transaction.atomic
def set_post(
    request: HttpRequest | None, *, actor, membership_id: int, post: str, building_code: str | None = None
) -> Membership:
    """Name a membership's post (网格长 on a grid worker's membership of a grid) and, for a building head,
    the building they look after (in the membership's grid). The security administrator, who grants
    memberships (三权分立)."""
    from gridgov.territory.models import Building

    require(actor, "membership.grant", ("membership", membership_id), request=request)
    membership = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "area")
        .filter(pk=membership_id)
        .first()
    )
    if membership is None:
        raise NotFound(_("No such membership."))
    if post and membership.role != Role.GRID_WORKER:
        raise _invalid("post", _("Only a grid worker's membership holds the grid chief's post."))
    building = None
    code = (building_code or "").strip()
    if code:
        if membership.role != Role.BUILDING_HEAD:
            raise _invalid("building_code", _("Only a building head looks after a building."))
        building = Building.objects.filter(code=code, grid_id=membership.area_id).first()
        if building is None:
            raise _invalid("building_code", _("No building with this code lies in the membership's grid."))
    before = {"post": membership.post, "building": membership.building_id}
    membership.post, membership.building = post, building
    membership.save(update_fields=["post", "building"])
    _audit(
        actor,
        request,
        "membership",
        membership.pk,
        {"user": membership.user.username, "before": before, "post": post, "building_code": code or None},
    )
    return membership


def register() -> None:
    """Called from AccountsConfig.ready(): the notice kinds and the kernel's redirect of notices."""
    notifications.register_kind(
        "accounts.backup_set",
        gettext_lazy("%(name)s chose you as their backup (AB岗)."),
        label=gettext_lazy("Backup set"),
    )
    notifications.register_kind(
        "accounts.leave_cover",
        gettext_lazy(
            "%(name)s is on leave from %(start)s to %(end)s: you stand in for them (代班); their to-dos "
            "and notices come to you."
        ),
        label=gettext_lazy("Standing in"),
    )
    notifications.register_kind(
        "accounts.leave_ended",
        gettext_lazy("%(name)s is back: their to-dos and notices go to them again."),
        label=gettext_lazy("Back from leave"),
    )
    notifications.register_kind(
        "accounts.cover_moved",
        gettext_lazy(
            "%(backup)s stands in for %(name)s from now on instead of you: their to-dos and notices go to "
            "%(backup)s."
        ),
        label=gettext_lazy("No longer standing in"),
    )
    notifications.register_redirect(redirects)
