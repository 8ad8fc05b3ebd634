"""Reads of cases, already narrowed to what the user may see:

- territorial roles: cases whose area lies in their subtree (or is their own area);
- department / partner handlers: cases with a step targeting their organisation;
- everyone: the cases they reported or created themselves, and the cases their reports were merged into;
- administrators: everything.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Case as DbCase
from django.db.models import CharField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.models import Organisation, User
from gridgov.accounts.roles import Role
from gridgov.accounts.scope import scope_for
from gridgov.cases import workflow
from gridgov.cases.models import (
    OPEN_STATUSES,
    OPEN_STEP_STATUSES,
    Case,
    Category,
    Channel,
    FollowUp,
    Status,
    Step,
    TimelineEvent,
    WhistleItem,
    merged_phone,
)
from gridgov.core import attachments, keyset, notifications, pii
from gridgov.core.errors import NotFound
from gridgov.core.models import Attachment, Notification
from gridgov.core.pagination import on_page
from gridgov.core.principal import principal_for
from gridgov.territory import paths
from gridgov.territory.models import Area


def visible_cases(user) -> QuerySet[Case]:
    scope = scope_for(user)
    if scope.user_id is None:
        return Case.objects.none()
    if scope.all:
        return Case.objects.all()
    q = scope.area_filter("area__path")
    if scope.organisation_ids:
        q |= Q(pk__in=Step.objects.filter(target_id__in=scope.organisation_ids).values("case_id"))
    q |= Q(reporter_id=scope.user_id) | Q(created_by_id=scope.user_id)
    q |= Q(
        pk__in=Case.objects.filter(reporter_id=scope.user_id, merged_into__isnull=False).values(
            "merged_into_id"
        )
    )
    return Case.objects.filter(q)


def attachment_for(user, attachment_id: str) -> Attachment:
    """An uploaded photo: the uploader's own, or one of a case the user may see (the read check cases
    registers with the core attachments). Else NotFound."""
    return attachments.readable(user, attachment_id)


def cases_for(
    user,
    *,
    status: list[str] | None = None,
    category: str | None = None,
    area: str | None = None,
    department: str | None = None,
    overdue: bool | None = None,
    channel: str | None = None,
    created_from: dt.datetime | dt.date | None = None,
    created_to: dt.datetime | dt.date | None = None,
    todo: bool | None = None,
    mine: bool | None = None,
    order: str = "created",
    q: str | None = None,
    phone: str | None = None,
    actions: bool = False,
    request: HttpRequest | None = None,
) -> QuerySet[Case]:
    """The cases the user may see, filtered, in the `order` of ORDERS. `q`: a case number (or its
    beginning) or words of the description; `phone`: a reporter's phone — the case's own or that of a case
    merged into it — matched through its keyed hash (the plain phone is never searched or stored in
    clear). `actions`: each case of a page gets `allowed_actions`, from its steps fetched for the whole
    page at once (the phone's task lists need no request per case)."""
    qs = visible_cases(user)
    if q and q.strip():
        words = q.split()
        text = Q()
        for word in words:
            text &= Q(description__icontains=word)
        qs = qs.filter(Q(number__istartswith=q.strip()) | text)
    if phone and phone.strip():
        qs = qs.filter(reported_from(phone_hashes(phone)))
        # A search by a person's phone is a use of personal data: one access-log entry per search.
        pii.log_access(user, "search", object_type="case", fields=["phone"], request=request)
    if todo:
        qs = _on_behalf_of(user, qs.filter(_waiting_on(user)))
    if mine:
        qs = qs.filter(_reported_by(user))
    if status:
        qs = qs.filter(status__in=status)
    if category:
        qs = qs.filter(category__code__startswith=category)
    if area:
        path = Area.objects.filter(code=area).values_list("path", flat=True).first()
        qs = qs.filter(area__path__startswith=path) if path else qs.none()
    if department:
        qs = qs.filter(pk__in=Step.objects.filter(target__code=department).values("case_id"))
    if overdue is not None:
        late = Q(due_at__lt=timezone.now(), status__in=OPEN_STATUSES)
        qs = qs.filter(late) if overdue else qs.exclude(late)
    if channel:
        qs = qs.filter(channel=channel)
    if created_from:
        qs = qs.filter(created_at__gte=_start(created_from))
    if created_to:
        qs = qs.filter(created_at__lt=_end(created_to))
    qs = keyset.order_by(with_own_step(user, qs), ORDERS[order])
    qs = qs.select_related("area", "grid", "category", "holder_area", "holder_organisation", "merged_into")
    if actions:
        qs = on_page(
            qs.prefetch_related(Prefetch("steps", to_attr="_steps_cache")),
            lambda page: _with_actions(user, page),
        )
    return qs


# The orders of the case list (and of its export, which follows the list): keyset keys, the last unique.
ORDERS: dict[str, tuple[keyset.Key, ...]] = {
    "created": (keyset.Key("created_at", descending=True), keyset.Key("id", descending=True)),
    "due": (keyset.Key("due_at", nulls_last=True), keyset.Key("created_at"), keyset.Key("id")),
}


def _with_actions(user, page: list[Case]) -> None:
    for case in page:
        case.allowed_actions = workflow.allowed_actions(case, user)


def reported_from(hashes: list[str]) -> Q:
    """The cases reported from one of these phone hashes: by their own reporter, or by the reporter of a
    case merged into them (the merged case keeps its reporter's sealed phone and hash; the surviving case
    lists them in `merged_reporters`)."""
    merged = Case.objects.filter(reporter_phone_hash__in=hashes, merged_into__isnull=False)
    return Q(reporter_phone_hash__in=hashes) | Q(pk__in=merged.values("merged_into_id"))


def _reported_by(user) -> Q:
    """我的上报: the cases the user reported, or registered on someone's behalf (window, hotline)."""
    uid = getattr(user, "pk", None)
    if uid is None:
        return Q(pk__in=[])
    return Q(reporter_id=uid) | Q(created_by_id=uid)


def phone_hashes(phone: str) -> list[str]:
    """The keyed hashes a phone typed into a search may have been stored under (as typed, normalised)."""
    from gridgov.core.tabular.validators import normalise_phone

    forms = {phone.strip(), normalise_phone(phone)}
    return sorted(pii.blind_index(f) for f in forms if f)


def with_own_step(user, qs: QuerySet[Case]) -> QuerySet[Case]:
    """For a department or partner handler: each case with the deadline of their own organisation's open
    step (the report-in deadline while waiting for the report-in, else the step's completion deadline)
    — a department's to-do shows its own deadline, not the case's."""
    actor = workflow.actor_for(user)
    orgs = set().union(*(actor.org_ids.get(r, set()) for r in (Role.DEPARTMENT_HANDLER, Role.PARTNER_ORG)))
    if not orgs:
        return qs
    own = Step.objects.filter(
        case=OuterRef("pk"), target_id__in=orgs, status__in=OPEN_STEP_STATUSES
    ).order_by("id")
    return qs.annotate(
        own_step_status=Subquery(own.values("status")[:1]),
        own_step_report_in_due_at=Subquery(own.values("report_in_due_at")[:1]),
        own_step_due_at=Subquery(own.values("due_at")[:1]),
    )


def _waiting_on(user) -> Q:
    """Cases waiting on the user (a workbench's to-dos), by the main moves of the transition table:
    dispatchers — cases their area holds that are to be accepted, dispatched, handled or closed;
    community staff — the follow-ups of unsatisfied ratings in their community; subdistrict staff and
    leaders — suspensions to approve in their area; department and partner handlers — their
    organisation's open steps; grid workers — handled cases of their grid to check on site; reporters —
    their closed cases to rate (not a patrol report: the return visit asks the residents). The
    administrators take no business action, so nothing waits on them. While a colleague is on leave with
    the user as backup (AB岗), the colleague's to-dos too (their memberships are in the user's principal:
    see `_on_behalf_of`)."""
    q = _waiting_on_posts(workflow.actor_for(user))
    if getattr(user, "pk", None):
        q |= _to_rate(user)
    return q


def _to_rate(user) -> Q:
    """The reporter's closed cases to rate (not a patrol report: the return visit asks the residents)."""
    return Q(reporter_id=user.pk, status=Status.CLOSED, merged_into__isnull=True) & ~Q(channel=Channel.PATROL)


@dataclass
class _Posts:
    """The role → areas / organisations groupings of some of a principal's memberships."""

    paths: dict[str, list[str]]
    area_ids: dict[str, set[int]]
    org_ids: dict[str, set[int]]


def _posts(records) -> _Posts:
    posts = _Posts(defaultdict(list), defaultdict(set), defaultdict(set))
    for m in records:
        if m.area_id:
            posts.paths[m.role].append(m.area_path)
            posts.area_ids[m.role].add(m.area_id)
        if m.organisation_id:
            posts.org_ids[m.role].add(m.organisation_id)
    return posts


def _waiting_on_posts(actor) -> Q:
    """The to-dos of the posts (role × area or organisation) of `actor` (a principal or `_Posts`)."""
    q = Q(pk__in=[])
    dispatchers = (Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF, Role.LEADER)
    holder = set().union(*(actor.area_ids.get(r, set()) for r in dispatchers))
    if holder:
        q |= Q(
            holder_area_id__in=holder,
            status__in=[Status.SUBMITTED, Status.ACCEPTED, Status.COMMUNITY_HANDLING, Status.VERIFIED],
        )
    for role in (Role.SUBDISTRICT_STAFF, Role.LEADER):
        for path in actor.paths.get(role, ()):
            q |= Q(area__path__startswith=path, suspension_requested=True, suspended=False)
    follow_up = Q(status=Status.RATED, follow_up=FollowUp.OPEN)
    for path in actor.paths.get(Role.COMMUNITY_STAFF, ()):
        q |= follow_up & Q(area__path__startswith=path)
    if actor.area_ids.get(Role.SUBDISTRICT_STAFF):
        q |= follow_up & Q(holder_area_id__in=actor.area_ids[Role.SUBDISTRICT_STAFF])
    orgs = set().union(*(actor.org_ids.get(r, set()) for r in (Role.DEPARTMENT_HANDLER, Role.PARTNER_ORG)))
    if orgs:
        q |= Q(
            pk__in=Step.objects.filter(target_id__in=orgs, status__in=OPEN_STEP_STATUSES).values("case_id")
        )
    for path in actor.paths.get(Role.GRID_WORKER, ()):
        q |= Q(area__path__startswith=path, status=Status.HANDLED)
    return q


def _on_behalf_of(user, qs: QuerySet[Case]) -> QuerySet[Case]:
    """Annotate to-dos with `on_behalf_of`: the name of the colleague on leave whose to-do a case is
    (代班), "" for the user's own. A case waiting on the user too counts as the user's own."""
    actor = workflow.actor_for(user)
    covering = sorted(actor.covering)
    if not covering or Role.ADMIN in actor.roles:
        return qs.annotate(on_behalf_of=Value("", output_field=CharField()))
    own = _waiting_on_posts(_posts(m for m in actor.memberships if m.on_behalf_of is None))
    own |= _to_rate(user)
    names = {u.pk: u.display_name or u.username for u in User.objects.filter(pk__in=covering)}
    whens = [When(own, then=Value(""))]
    for absent in covering:
        theirs = _waiting_on_posts(_posts(m for m in actor.memberships if m.on_behalf_of == absent))
        whens.append(When(theirs, then=Value(names.get(absent, ""))))
    return qs.annotate(on_behalf_of=DbCase(*whens, default=Value(""), output_field=CharField()))


def _start(value):
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time.min, tzinfo=timezone.get_current_timezone())


def _end(value):
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(
        value + dt.timedelta(days=1), dt.time.min, tzinfo=timezone.get_current_timezone()
    )


def visible_case(user, case_id: int) -> Case:
    # Two plain queries: the scope check alone, then the row with its relations. One query joining the
    # relations behind the scope's OR filter costs PostgreSQL more to plan than both together to run.
    case = None
    if visible_cases(user).filter(pk=case_id).exists():
        case = (
            Case.objects.select_related(
                "area", "grid", "category", "holder_area", "holder_organisation", "merged_into"
            )
            .filter(pk=case_id)
            .first()
        )
    if case is None:
        raise NotFound(_("Nothing here, or it is outside your area."))
    return case


def case_detail(
    user, case_id: int, *, reveal: bool = False, purpose: str = "", request: HttpRequest | None = None,
    call_back: bool = False,
) -> Case:  # fmt: skip
    """The case with its steps, timeline and the actions the user may take now. The reporter's contact
    is masked; `reveal` unmasks it (and logs it) when the user's PII policy covers the case's area;
    `call_back` (the detail page, the printed sheets) unmasks it at once for the staff who call the
    reporter back (logged) — not in the answers to an intake or an action."""
    case = visible_case(user, case_id)
    reveal_contact(user, case, reveal=reveal, purpose=purpose, request=request, call_back=call_back)
    case.step_list = list(case.steps.select_related("target", "source_organisation", "source_area"))
    case._steps_cache = case.step_list
    case.timeline_list = name_departments(list(case.timeline.select_related("actor", "on_behalf_of")))
    case.allowed_actions = workflow.allowed_actions(case, user)
    case.action_list = [action_requirements(case, action) for action in case.allowed_actions]
    return case


def reveal_contact(
    user, case: Case, *, reveal: bool, purpose: str = "", request: HttpRequest | None = None,
    call_back: bool = False,
) -> None:  # fmt: skip
    """Mark what of the reporters' contacts the user may reveal, or reveals (one access-log entry): the
    case's reporter and the reporters of the cases merged into it (`merged_contacts`), masked for every
    role — the system administrator too — unless revealed by a reader whose PII policy covers the area."""
    viewer = getattr(user, "pk", None)
    own = case.reporter_id is not None and case.reporter_id == viewer
    merged = list(case.merged_reporters or [])
    has_contact = bool(case.reporter_phone or case.reporter_name or merged)
    # The staff who registered the report and the community dispatchers of the case's area must call
    # the reporter back: they see the contact unmasked at once (still one access-log entry per view).
    entitled = call_back and has_contact and not own and calls_back(user, case)
    if entitled:
        reveal = True
        purpose = purpose or "call back the reporter (registering staff or community dispatcher)"
    may = has_contact and (entitled or principal_for(user).pii.may("phone", case.area.path))
    case.contact_revealed = reveal and may and not own
    shown = reveal and may
    revealable = ["reporter_name", "reporter_phone"] if may and not own and not reveal else []
    if merged and may and not reveal:
        revealable.append("merged_reporters")
    case.contact_revealable = revealable
    contacts = []
    for entry in merged:
        name, phone = entry.get("name") or "", merged_phone(entry)
        plain = shown or (entry.get("reporter_id") is not None and entry.get("reporter_id") == viewer)
        contacts.append(
            {
                "case_number": entry.get("case") or "",
                "name": name if plain else pii.mask_name(name),
                "phone": phone if plain else pii.mask_phone(phone),
                "has_account": entry.get("reporter_id") is not None,
            }
        )
    case.merged_contacts = contacts
    if shown and (case.contact_revealed or merged):
        pii.log_access(
            user, "view", object_type="case", ids=[case.pk], fields=["phone", "name"], purpose=purpose,
            request=request, detail={"merged_reporters": len(merged)} if merged else None,
        )  # fmt: skip


def calls_back(user, case: Case) -> bool:
    """Whether the user registered the case (did the intake) or is a community dispatcher (community
    staff) of the case's area — the people who call the reporter back for the return visit."""
    viewer = getattr(user, "pk", None)
    if viewer is None:
        return False
    if case.created_by_id is not None and case.created_by_id == viewer:
        return True
    actor = workflow.actor_for(user)
    return paths.within(case.area.path, actor.paths.get(Role.COMMUNITY_STAFF, ()))


def action_requirements(case: Case, action: str) -> dict:
    """The fields the form of `action` must fill on this case, from the transition table's `required`:
    a plain name is required; "a or b" asks for at least one of them (`one_of`). The table's notes name
    when a requirement falls away (accept: the case already has a category; whistle: the category has a
    responsible department to dispatch to), as the services check it."""
    required: list[str] = []
    one_of: list[list[str]] = []
    for entry in workflow.TRANSITIONS[action].required:
        names = [name.strip() for name in entry.split(" or ")]
        if len(names) > 1:
            one_of.append(names)
        else:
            required.append(names[0])
    if action == "accept" and case.category_id:
        required = [name for name in required if name != "category_code"]
    if action == "whistle" and case.category_id and case.category.department_code:
        one_of = []
    return {"action": action, "required": required, "one_of": one_of}


def timeline(user, case_id: int) -> list[TimelineEvent]:
    case = visible_case(user, case_id)
    return name_departments(
        list(TimelineEvent.objects.filter(case=case).select_related("actor", "on_behalf_of"))
    )


def name_departments(events: list[TimelineEvent]) -> list[TimelineEvent]:
    """Give each event the names of the organisations its data names by code (`department_names`), so a
    timeline reads 职能部门：龙华区城市管理局, not 440309-CG."""
    codes = {c for e in events for c in (e.data or {}).get("departments") or () if isinstance(c, str)}
    names = dict(Organisation.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}
    for e in events:
        e.department_names = [names.get(c, c) for c in (e.data or {}).get("departments") or ()]
    return events


def department_names(case_ids: list[int]) -> dict[int, list[str]]:
    """The names of the organisations handling each case (its steps that are not cancelled), in order."""
    out: dict[int, list[str]] = {}
    rows = (
        Step.objects.filter(case_id__in=case_ids)
        .exclude(status="cancelled")
        .order_by("case_id", "id")
        .values_list("case_id", "target__name")
    )
    for case_id, name in rows:
        names = out.setdefault(case_id, [])
        if name not in names:
            names.append(name)
    return out


def category_tree() -> list[Category]:
    roots = list(Category.objects.filter(parent__isnull=True, is_active=True))
    children: dict[int, list[Category]] = {}
    for c in Category.objects.filter(parent__isnull=False, is_active=True):
        children.setdefault(c.parent_id, []).append(c)
    for r in roots:
        r.child_list = children.get(r.pk, [])
    return roots


def category_detail(category_code: str) -> Category:
    cat = Category.objects.select_related("parent").filter(code=category_code).first()
    if cat is None:
        raise NotFound(_("There is no category with this code."))
    cat.child_list = list(cat.children.filter(is_active=True))
    return cat


def whistle_items(group: str | None = None) -> QuerySet[WhistleItem]:
    qs = WhistleItem.objects.filter(is_active=True)
    if group:
        qs = qs.filter(group=group)
    return qs


def whistle_item_detail(whistle_item_id: int) -> WhistleItem:
    item = WhistleItem.objects.filter(pk=whistle_item_id, is_active=True).first()
    if item is None:
        raise NotFound(_("There is no whistle item with this id."))
    return item


def notifications_for(user, *, unread: bool | None = None) -> QuerySet[Notification]:
    """The user's own notifications about cases, newest first (`unread`: only unread, or only read
    ones), with the case number."""
    number = Case.objects.filter(pk=OuterRef("owner_id")).values("number")[:1]
    return notifications.for_user(user, unread=unread, about=Case).annotate(case_number=Subquery(number))
