"""The workflow engine: one transition table per model, and the helpers every move goes through.

A `Workflow` names a model, its status field, its version field (if it has one), its transitions and
how a move is recorded. Every app declares its tables in its own `workflow.py` and calls:

    wf.take(pk, version)          lock the row; with a version field, check and bump it atomically:
                                  a stale version → Conflict (409), no such row → NotFound (404)
    wf.require(obj, action, user) the status and the guard → Conflict (409); the table's rules → Forbidden (403)
    wf.move(obj, action, actor)   the new status (the table's, or one the service computed), save, and one
                                  record through the workflow's `record` hook (the app's timeline)
    wf.allowed_actions(obj, user) the actions the user may take now, from the same table
    wf.acting_for(obj, action, u) AB岗: the colleague on leave the user acts for (their memberships
                                  alone admit the action), or None; with `records_on_behalf_of` the
                                  move's record gets it as `on_behalf_of`
    wf.advance(pk, action, when=Q(...), **fields)
                                  a system move (no user, no lock): one compare-and-set UPDATE that
                                  moves the row only from a source status of the action (and `when`)
    wf.markdown_table()           the table as Markdown: docs embed it and a test keeps them equal

Who may act is a list of `Rule`s (role, condition, only-in-statuses); a user may act when one rule
matches. A rule's condition is `condition(obj, principal, role) -> bool`, where the principal is what
the workflow's `loader(user)` returns: an object with `.user`, `.roles` (a set of role strings) and,
per role, `.paths[role]` (area paths), `.area_ids[role]`, `.org_ids[role]`. A rule with
`membership=False` does not need the role (e.g. "reporter": whoever reported the object).

Workflows without a version field (e.g. the steps of a case) are locked through their parent: the
parent's `take` holds the row lock, and the child's moves use `require` and `move` only.

Every refusal for the wrong person goes through `_forbidden` (one place to audit denials).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Model, Q
from django.utils.translation import gettext_lazy

from gridgov.core import principal as principals
from gridgov.core.errors import Conflict, Forbidden, NotFound

Condition = Callable[[Any, Any, str], bool]


# --- conditions every table may use --------------------------------------------------------------------
def anyone(obj, principal, role: str) -> bool:
    """Always (e.g. administrators)."""
    return True


anyone.__name__ = "any"


def named(name: str, condition: Condition) -> Condition:
    """The condition under the name the table shows (`who may (role: condition)`)."""
    condition.__name__ = name
    return condition


def via(parent: Callable[[Any], Any], condition: Condition, prefix: str = "") -> Condition:
    """A condition of a parent object (e.g. a step's case) used on the child."""

    def check(obj, principal, role: str) -> bool:
        return condition(parent(obj), principal, role)

    check.__name__ = prefix + condition.__name__
    return check


@dataclass(frozen=True)
class Rule:
    role: str  # a role, or a name for whoever the condition admits (membership=False)
    condition: Condition = anyone
    statuses: frozenset[str] | None = None  # only in these statuses (None: every source status)
    membership: bool = True  # False: the condition alone decides; no membership of `role` needed

    def matches(self, obj, principal, status: str) -> bool:
        if self.statuses is not None and status not in self.statuses:
            return False
        if not self.membership:
            return bool(self.condition(obj, principal, self.role))
        return self.role in principal.roles and bool(self.condition(obj, principal, self.role))

    def describe(self) -> str:
        where = self.condition.__name__
        only = f" (in {', '.join(sorted(self.statuses))})" if self.statuses else ""
        return f"{self.role}: {where}{only}"


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str | None  # None: the status does not change
    rules: tuple[Rule, ...]
    required: tuple[str, ...] = ()
    guard: Callable[[Any], bool] | None = None
    guard_text: str = ""
    while_blocked: bool = False  # may be taken while the workflow's `blocked(obj)` holds
    note: str = ""


def transition(
    action: str,
    sources: Iterable[str],
    target: str | None,
    rules: Iterable[Rule],
    required: Iterable[str] = (),
    **kw,
) -> Transition:
    """A `Transition` from plain iterables (tables read better with this)."""
    return Transition(action, frozenset(sources), target, tuple(rules), tuple(required), **kw)


# --- texts (English source; zh-hans in the catalogue) ----------------------------------------------------
DEFAULT_TEXTS = {
    "unknown": gettext_lazy("There is no action “%(action)s”."),
    "missing": gettext_lazy("Nothing here, or it is outside your area."),
    "stale": gettext_lazy("Someone else changed this first; reload it and try again."),
    "conflict": gettext_lazy("This cannot take the action “%(action)s” now (status: %(status)s)."),
    "forbidden": gettext_lazy("You may not take the action “%(action)s”."),
}


# where `require` leaves, on the object, whom the actor acts for per action (read by `move`)
ACTING_FOR = "_workflow_acting_for"


def _forbidden(workflow: Workflow, obj, action: str, user, message: str | None = None) -> Forbidden:
    """THE refusal of every workflow (403), audited like every other refusal (core.principal)."""
    return principals.forbidden(
        getattr(user, "user", user),
        action=f"{workflow.model._meta.label_lower}.{action}",
        object_type=workflow.model._meta.model_name or "",
        object_id=getattr(obj, "pk", None),
        message=message or workflow.text("forbidden", action=action),
    )


@dataclass
class Workflow:
    """A model's state machine: its transitions and how a move is locked, checked and recorded."""

    model: type[Model]
    transitions: Iterable[Transition]
    status_field: str = "status"
    version_field: str | None = "version"
    # principal_for(user) → an object with .user, .roles, .paths, .area_ids, .org_ids
    loader: Callable[[Any], Any] = principals.principal_for
    # record(obj, action, actor, *, from_status, note, data, **extra) → the event written on a move
    record: Callable[..., Any] | None = None
    # blocked(obj): while true only transitions with while_blocked=True may be taken (e.g. suspended)
    blocked: Callable[[Any], bool] | None = None
    # AB岗: `record` also gets `on_behalf_of` (the id of the colleague on leave the actor acted for, or
    # None; see `acting_for`)
    records_on_behalf_of: bool = False
    select_related: tuple[str, ...] = ()
    texts: dict[str, Any] = field(default_factory=dict)
    table: dict[str, Transition] = field(init=False)

    def __post_init__(self) -> None:
        self.table = {}
        for t in self.transitions:
            if t.action in self.table:
                raise ValueError(f"action {t.action!r} twice in the table of {self.model.__name__}")
            self.table[t.action] = t
        self.transitions = tuple(self.table.values())

    # --- texts ----------------------------------------------------------------------------------------
    def text(self, key: str, **facts) -> str:
        return str(self.texts.get(key) or DEFAULT_TEXTS[key]) % facts

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(self.table)

    def status_of(self, obj) -> str:
        return getattr(obj, self.status_field)

    def _status_display(self, obj) -> str:
        display = getattr(obj, f"get_{self.status_field}_display", None)
        return str(display()) if display else str(self.status_of(obj))

    # --- checks ---------------------------------------------------------------------------------------
    def transition(self, action: str) -> Transition:
        t = self.table.get(action)
        if t is None:
            raise NotFound(self.text("unknown", action=action))
        return t

    def state_allows(self, obj, t: Transition) -> bool:
        if self.status_of(obj) not in t.sources:
            return False
        if self.blocked is not None and not t.while_blocked and self.blocked(obj):
            return False
        return t.guard is None or bool(t.guard(obj))

    def role_allows(self, obj, t: Transition, principal) -> bool:
        status = self.status_of(obj)
        return any(rule.matches(obj, principal, status) for rule in t.rules)

    def may_try(self, action: str, user) -> bool:
        """Whether some rule of the action could ever admit the user (by role alone), before any
        object is looked at: services that refuse a stranger first use `require_role`."""
        principal = self.loader(user)
        return any(not r.membership or r.role in principal.roles for r in self.transition(action).rules)

    def require_role(self, action: str, user, message: str | None = None) -> None:
        if not self.may_try(action, user):
            raise _forbidden(self, None, action, user, message)

    def allowed_actions(self, obj, user) -> list[str]:
        principal = self.loader(user)
        return [
            a
            for a, t in self.table.items()
            if self.state_allows(obj, t) and self.role_allows(obj, t, principal)
        ]

    def require(self, obj, action: str, user) -> Transition:
        """The transition of `action` if the object's state and the user allow it: the wrong status
        or a failed guard → Conflict (409); nobody's rule matches → Forbidden (403)."""
        t = self.transition(action)
        if not self.state_allows(obj, t):
            raise Conflict(self.text("conflict", action=action, status=self._status_display(obj)))
        principal = self.loader(user)
        if not self.role_allows(obj, t, principal):
            raise _forbidden(self, obj, action, user)
        if self.records_on_behalf_of and obj is not None:
            # Decided now, before the service changes anything the rules read (e.g. a step's status).
            obj.__dict__.setdefault(ACTING_FOR, {})[action] = self.acting_for(obj, action, principal)
        return t

    def acting_for(self, obj, action: str, user) -> int | None:
        """AB岗: whom the user acts for when taking the action — the id of a colleague on leave when
        only the memberships the user holds for them (`on_behalf_of`, core.principal) admit the action;
        None when the user's own memberships do (or nobody's)."""
        principal = self.loader(user)
        covering = sorted(getattr(principal, "covering", ()))
        if not covering:
            return None
        t = self.transition(action)
        if self.role_allows(obj, t, principal.restricted(None)):
            return None
        return next((a for a in covering if self.role_allows(obj, t, principal.restricted(a))), None)

    check = require

    def refuse(self, obj, action: str, user, message: str | None = None) -> Forbidden:
        """A refusal the service found itself (e.g. no step of the user's is waiting), for it to raise."""
        return _forbidden(self, obj, action, user, message)

    # --- lock and move --------------------------------------------------------------------------------
    def take(self, pk, version: int | None = None):
        """Lock the row. With a version field, move the version from `version` to `version + 1` in one
        conditional UPDATE: a stale or concurrent move gets Conflict, whatever the database."""
        model = self.model
        qs = model._default_manager.select_for_update(of=("self",))
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        obj = qs.filter(pk=pk).first()
        if obj is None:
            raise NotFound(self.text("missing"))
        vf = self.version_field
        if vf is None:
            return obj
        if version is None:
            raise TypeError(f"{model.__name__} has a version: take() needs the version the client saw")
        stale = self.text("stale")
        if getattr(obj, vf) != version:
            raise Conflict(stale, current_version=getattr(obj, vf))
        if model._default_manager.filter(pk=pk, **{vf: version}).update(**{vf: F(vf) + 1}) != 1:
            raise Conflict(stale)
        setattr(obj, vf, version + 1)
        return obj

    def move(
        self,
        obj,
        action: str,
        actor,
        *,
        status: str | None = None,
        note: str = "",
        data: dict | None = None,
        update_fields: Iterable[str] | None = None,
        **extra,
    ):
        """Set the new status (the table's, unless the service computed another), save (all fields, or
        `update_fields` and the status), and record one event through the workflow's hook."""
        t = self.table[action]
        from_status = self.status_of(obj)
        if self.records_on_behalf_of and self.record is not None:
            decided = obj.__dict__.get(ACTING_FOR, {})
            extra["on_behalf_of"] = (
                decided[action]
                if action in decided
                else self.acting_for(obj, action, actor)
                if actor
                else None
            )
        new = status if status is not None else t.target
        if new is not None:
            setattr(obj, self.status_field, new)
        if update_fields is None:
            obj.save()
        else:
            obj.save(update_fields=list(dict.fromkeys([*update_fields, self.status_field])))
        if self.record is not None:
            self.record(obj, action, actor, from_status=from_status, note=note, data=data, **extra)
        return obj

    def advance(self, pk, action: str, *, when: Q | None = None, **fields) -> bool:
        """A move the system makes (a worker, a sweeper), not a user: one conditional UPDATE — the row
        moves only from one of the action's source statuses and only while `when` holds, setting
        `fields` in the same statement (a version field, if any, moves on). True when it moved; two
        workers racing for the same row cannot both win. Nothing is recorded: a model whose system
        moves need a timeline records them itself."""
        t = self.transition(action)
        qs = self.model._default_manager.filter(pk=pk, **{f"{self.status_field}__in": t.sources})
        if when is not None:
            qs = qs.filter(when)
        if t.target is not None:
            fields[self.status_field] = t.target
        if self.version_field:
            fields[self.version_field] = F(self.version_field) + 1
        return qs.update(**fields) == 1

    # --- the table as rows and Markdown ---------------------------------------------------------------
    def table_rows(self) -> list[dict]:
        return [
            {
                "action": t.action,
                "from": sorted(str(s) for s in t.sources),
                "to": t.target or "(unchanged)",
                "who": [r.describe() for r in t.rules],
                "required": list(t.required),
                "guard": t.guard_text,
                "note": t.note,
            }
            for t in self.table.values()
        ]

    def markdown_table(self) -> str:
        lines = [
            "| action | from | to | who may (role: condition) | required | guard |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in self.table_rows():
            lines.append(
                "| `{}` | {} | {} | {} | {} | {} |".format(
                    r["action"],
                    ", ".join(str(s) for s in r["from"]),
                    r["to"],
                    "<br>".join(r["who"]),
                    ", ".join(r["required"]) or "—",
                    r["guard"] or "—",
                )
            )
        return "\n".join(lines)


# --- the same, as functions of a workflow -----------------------------------------------------------------
def take(workflow: Workflow, pk, version: int | None = None):
    return workflow.take(pk, version)


def require(workflow: Workflow, obj, action: str, user) -> Transition:
    return workflow.require(obj, action, user)


def move(workflow: Workflow, obj, action: str, actor, **kw):
    return workflow.move(obj, action, actor, **kw)


def allowed_actions(workflow: Workflow, obj, user) -> list[str]:
    return workflow.allowed_actions(obj, user)
