"""Notifications: `notify(recipients, kind, facts, obj)` writes one in-app notification per recipient
in the caller's transaction, and one outbox row per external channel that is on for the kind
(core/outbox.py delivers those after the commit).

Kinds are registered by the apps, once, in their AppConfig.ready():

    notifications.register_kind(
        "fieldwork.patrol_missed",
        gettext_lazy("Patrol %(route)s was not walked on %(day)s."),
        label=gettext_lazy("Patrol missed"),
    )

A kind's template is gettext-able English with %(name)s facts (or a function of the facts that
returns the text, for kinds whose wording depends on them). The text is rendered twice: at writing
time in the recipient's language (`User.language`, default zh-hans) into `Notification.message`,
which the external channels send; and at reading time in the reader's language (the request's), so
switching the interface to English shows the in-app list in English.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gridgov.core import outbox
from gridgov.core.errors import NotFound
from gridgov.core.models import Notification

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    name: str
    template: Any  # a (lazy) string with %(name)s facts, or a function facts -> text
    label: Any = ""
    channels: tuple[str, ...] | None = None  # external channels; None: every channel that is on

    def render(self, facts: dict) -> str:
        if callable(self.template):
            text = str(self.template(facts)).strip()
        else:
            text = (str(self.template) % facts).strip()
        if facts.get(ON_BEHALF_OF):
            # A notice meant for a colleague on leave, delivered to the one standing in (see `redirect`).
            text = _("On behalf of %(name)s: %(text)s") % {"name": facts[ON_BEHALF_OF], "text": text}
        return text


_kinds: dict[str, Kind] = {}

# --- who receives a notice meant for someone else (AB岗) ---------------------------------------------
# The facts a redirected notice carries: the name and id of the user it was meant for.
ON_BEHALF_OF = "on_behalf_of"
ON_BEHALF_OF_ID = "on_behalf_of_id"
# fn(recipient ids) → {meant-for id: (deliver-to id, meant-for name)} for the recipients who are away
# now. core imports no app: accounts registers its resolver (leave periods) in AccountsConfig.ready().
_redirect: Callable[[set[int]], dict[int, tuple[int, str]]] | None = None


def register_redirect(fn: Callable[[set[int]], dict[int, tuple[int, str]]] | None) -> None:
    """Set the resolver that delivers a notice meant for an absent user to the one standing in."""
    global _redirect
    _redirect = fn


def _redirected(notices: list[Notice]) -> list[Notice]:
    """Notices for users who are away now go to whoever stands in for them, marked with the name of the
    user they were meant for (the text then says so). A notice the stand-in receives in the same call
    anyway is not doubled."""
    live = {n.recipient_id for n in notices}
    away = _redirect(live) if (_redirect is not None and live) else {}
    if not away:
        return notices
    direct = {_same_notice(n, n.recipient_id) for n in notices}
    out: list[Notice] = []
    for n in notices:
        target = away.get(n.recipient_id)
        if target is None:
            out.append(n)
            continue
        to_id, name = target
        if _same_notice(n, to_id) in direct:
            continue
        facts = {**n.facts, ON_BEHALF_OF: name, ON_BEHALF_OF_ID: n.recipient_id}
        out.append(Notice(to_id, n.kind, facts, n.obj, n.created_at, n.read_at))
    return out


def _obj_key(obj: Model | None) -> tuple[str, Any] | None:
    return None if obj is None else (obj._meta.label, obj.pk)


def _same_notice(n: Notice, recipient_id: int) -> tuple:
    """What makes two notices the same for one recipient: the kind, the object and the facts (by
    value: the same event told twice)."""
    facts = json.dumps(n.facts, sort_keys=True, default=str, ensure_ascii=False)
    return (recipient_id, n.kind, _obj_key(n.obj), facts)


# --- notices that change hands when a stand-in changes or the absent user returns (AB岗) ---------------
# model label → fn(ids of objects of that model) → the ids still needing someone's action. Apps register
# it for the objects their notices are about (cases: a case still open or with an open follow-up).
_actionable: dict[str, Callable[[list[int]], set[int]]] = {}


def register_actionable(model: type[Model], fn: Callable[[list[int]], set[int]]) -> None:
    """Say which objects of `model` still need action (the notices about the others are done with)."""
    _actionable[model._meta.label] = fn


def _still_actionable(rows: list[Notification]) -> list[Notification]:
    """The notices whose object still needs action: about an object whose app registered a check that
    says so, or about anything without such a check (nothing tells us it is done)."""
    by_type: dict[int, list[int]] = {}
    for n in rows:
        if n.owner_type_id is not None and n.owner_id is not None:
            by_type.setdefault(n.owner_type_id, []).append(n.owner_id)
    done: set[tuple[int, int]] = set()
    for type_id, ids in by_type.items():
        model = ContentType.objects.get_for_id(type_id).model_class()
        check = _actionable.get(model._meta.label) if model is not None else None
        if check is not None:
            live = check(sorted(set(ids)))
            done.update((type_id, i) for i in ids if i not in live)
    return [n for n in rows if (n.owner_type_id, n.owner_id) not in done]


def pass_on(*, meant_for: int, holder: int, to: int, since: Any, until: Any = None) -> int:
    """AB岗: hand the unread notices that `holder` received on behalf of `meant_for` (written from
    `since`, before `until`) to `to`, in the caller's transaction; returns how many moved.

    To another stand-in (the backup of a leave changed): all of them, still marked as meant for the
    absent user. Back to `meant_for` (they returned): only those still actionable (`register_actionable`),
    as their own notices again; the rest stay with the holder. Nothing is sent again on the external
    channels: the move is in-app only. Read notices stay with whoever read them."""
    qs = Notification.objects.filter(
        recipient_id=holder,
        read_at__isnull=True,
        created_at__gte=since,
        **{f"facts__{ON_BEHALF_OF_ID}": meant_for},
    )
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    rows = list(qs.select_for_update(of=("self",)).order_by("id"))
    back = to == meant_for
    if back:
        rows = _still_actionable(rows)
    if not rows:
        return 0
    lang = _languages({to})[to]
    for n in rows:
        if back:
            n.facts = {k: v for k, v in n.facts.items() if k not in (ON_BEHALF_OF, ON_BEHALF_OF_ID)}
        n.recipient_id = to
        try:
            n.message = render(n.kind, n.facts, lang)
        except (KeyError, LookupError, TypeError, ValueError):
            pass  # a kind no longer registered: keep the stored text
    Notification.objects.bulk_update(rows, ["recipient", "facts", "message"])
    return len(rows)


def register_kind(
    name: str,
    template: Any,
    *,
    label: Any = "",
    channels: Iterable[str] | None = None,
) -> Kind:
    kind = Kind(name, template, label or name, tuple(channels) if channels is not None else None)
    _kinds[name] = kind
    return kind


def kinds() -> dict[str, Kind]:
    return dict(_kinds)


def render(kind: str, facts: dict, language: str | None = None) -> str:
    """The text of a notification of `kind` with `facts`, in `language` (default: the current one)."""
    spec = _kinds[kind]
    if language is None:
        return spec.render(facts)
    with translation.override(language):
        return spec.render(facts)


def text_of(notification: Notification) -> str:
    """The in-app text in the current (the reader's) language; the stored text when the kind is not
    registered any more or its facts do not fit the template (e.g. rows kept from older versions)."""
    if notification.kind in _kinds:
        try:
            return render(notification.kind, notification.facts or {})
        except (KeyError, TypeError, ValueError):
            pass
    return notification.message


@dataclass
class Notice:
    """One notification to write (`notify_many`): recipient, kind, facts, the object it is about."""

    recipient_id: int
    kind: str
    facts: dict
    obj: Model | None = None
    created_at: Any = None
    read_at: Any = None


def _languages(user_ids: set[int]) -> dict[int, str]:
    User = get_user_model()
    default = settings.LANGUAGE_CODE
    if not user_ids:
        return {}
    if not any(f.name == "language" for f in User._meta.get_fields()):
        return dict.fromkeys(user_ids, default)
    rows = User.objects.filter(pk__in=user_ids).values_list("pk", "language")
    found = {pk: (lang or default) for pk, lang in rows}
    return {u: found.get(u, default) for u in user_ids}


def _user_id(recipient) -> int:
    return recipient if isinstance(recipient, int) else recipient.pk


def notify(recipients: Iterable, kind: str, facts: dict, obj: Model | None = None) -> list[Notification]:
    """Tell each recipient (users or user ids, duplicates ignored) about `obj`, in the caller's
    transaction: in-app rows now, outbox rows for the external channels of the kind."""
    ids = list(dict.fromkeys(_user_id(r) for r in recipients))
    return notify_many([Notice(u, kind, facts, obj) for u in ids])


def notify_many(
    notices: Iterable[Notice], *, external: bool = True, batch_size: int = 1000
) -> list[Notification]:
    """Write many notifications at once (bulk). `external=False` writes the in-app rows only (e.g. a
    generated history that must not be sent). Unknown kinds raise LookupError. A notice for a user on
    leave goes to the colleague standing in for them (the resolver accounts registers, AB岗), unless
    `external=False`."""
    notices = list(notices)
    if not notices:
        return []
    for n in notices:
        if n.kind not in _kinds:
            raise LookupError(f"notification kind {n.kind!r} is not registered")
    if external:  # a live notice (not a generated history): for a user on leave, to their backup
        notices = _redirected(notices)
    languages = _languages({n.recipient_id for n in notices})
    now = timezone.now()
    types: dict[type, ContentType] = {}
    rendered: dict[tuple[str, str, str], str] = {}
    rows = []
    for n in notices:
        lang = languages.get(n.recipient_id, settings.LANGUAGE_CODE)
        key = (n.kind, json.dumps(n.facts, sort_keys=True, default=str, ensure_ascii=False), lang)
        if key not in rendered:
            rendered[key] = render(n.kind, n.facts, lang)
        owner_type = None
        if n.obj is not None:
            model = type(n.obj)
            if model not in types:
                types[model] = ContentType.objects.get_for_model(model)
            owner_type = types[model]
        rows.append(
            Notification(
                recipient_id=n.recipient_id,
                kind=n.kind,
                facts=n.facts,
                message=rendered[key],
                owner_type=owner_type,
                owner_id=n.obj.pk if n.obj is not None else None,
                created_at=n.created_at or now,
                read_at=n.read_at,
            )
        )
    created = Notification.objects.bulk_create(rows, batch_size=batch_size)
    if external:
        outbox.write(created, {k: s.channels for k, s in _kinds.items()})
    return created


# --- reading -------------------------------------------------------------------------------------------
def for_user(user, *, unread: bool | None = None, about: type[Model] | None = None) -> QuerySet[Notification]:
    """The user's own notifications, newest first (`unread`: only unread, or only read ones; `about`:
    only those about objects of that model)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    qs = Notification.objects.filter(recipient=user)
    if about is not None:
        qs = qs.filter(owner_type=ContentType.objects.get_for_model(about))
    if unread is not None:
        qs = qs.filter(read_at__isnull=unread)
    return qs.order_by("-created_at", "-id")


def about(obj: Model) -> QuerySet[Notification]:
    """Every notification about `obj` (whoever it went to)."""
    return Notification.objects.filter(owner_type=ContentType.objects.get_for_model(obj), owner_id=obj.pk)


def mark_read(*, actor, notification_id: int) -> None:
    """Mark one of the actor's own notifications read (again: unchanged). Another's → NotFound."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotFound(_("There is no notification with this id."))
    with transaction.atomic():
        mine = Notification.objects.filter(pk=notification_id, recipient=actor)
        if not mine.exists():
            raise NotFound(_("There is no notification with this id."))
        mine.filter(read_at__isnull=True).update(read_at=timezone.now())
