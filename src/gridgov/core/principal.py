"""The principal: who is asking, loaded once per request; and the one permission check, `require`.

A `Principal` holds the user, their roles, their memberships as plain records, the memberships grouped
by role (`paths`, `area_ids`, `org_ids`: what workflow conditions read), their data scope (`scope`,
with `area_filter`, `visible_paths`, `can_see_path`, `has_role`, `is_empty` also on the principal) and
their personal-data policy (`pii`). core imports no app, so the principal is filled by loaders that the
apps register in their AppConfig.ready(): accounts loads the memberships and the scope, registry adds the
PII grants (lazily, on first use of `principal.pii`). `principal_for(user)` caches it on the user object,
so a request pays for one membership query however many selectors ask.

`require(principal, "registry.resident.create", obj, request=request)` checks a named permission that an
app declared with `declare({...})` (roles, optionally an object check and a message) and raises
Forbidden (403). Every refusal is written to the audit log (through the writer accounts registers), and
never inside a transaction that will roll back: outside an atomic block it is written at once; inside one
it waits (on the Forbidden and in a per-thread list) and is written by the API's exception handler once
the use case's transaction has unwound, or, for any other caller, by `flush_denials()` (the middleware
after each request, the task queue after each task, the CLI on exit).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.db.models import Q
from django.utils.translation import gettext_lazy

from gridgov.core.errors import Forbidden, NotAuthenticated, NotFound
from gridgov.core.pii import NOTHING as NO_PII
from gridgov.core.pii import PiiPolicy

_NOTHING = Q(pk__in=[])


# --- the data scope ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """What a user may see, as the union of their memberships: all / area subtrees / own areas /
    own organisations (and the areas those organisations serve) / self."""

    user_id: int | None
    roles: frozenset[str] = frozenset()
    all: bool = False
    subtree_paths: tuple[str, ...] = ()  # area and below: materialised path prefixes
    area_ids: tuple[int, ...] = ()  # own area only
    area_paths: tuple[str, ...] = ()  # the paths of those areas (for records located below them)
    organisation_ids: tuple[int, ...] = ()
    # The areas served by the user's organisations (a department's district): territory they may look at.
    jurisdiction_paths: tuple[str, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        return not (self.all or self.subtree_paths or self.area_ids or self.organisation_ids)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def area_filter(self, path_field: str = "path", *, include_jurisdiction: bool = False) -> Q:
        """Records that belong to an area, given the name of the field that holds the area's path
        (e.g. "path" on Area, "grid__path" on Building)."""
        if self.all:
            return Q()
        q = _NOTHING
        paths = self.subtree_paths + (self.jurisdiction_paths if include_jurisdiction else ())
        for p in minimal_prefixes(paths):
            q |= Q(**{f"{path_field}__startswith": p})
        for p in self.area_paths:
            q |= Q(**{path_field: p})
        return q

    def visible_paths(self, *, include_jurisdiction: bool = False) -> tuple[str, ...] | None:
        """Path prefixes of the user's subtrees; None means everything."""
        if self.all:
            return None
        return minimal_prefixes(
            self.subtree_paths + (self.jurisdiction_paths if include_jurisdiction else ())
        )

    def can_see_path(self, path: str, *, include_jurisdiction: bool = False) -> bool:
        if self.all:
            return True
        prefixes = self.subtree_paths + (self.jurisdiction_paths if include_jurisdiction else ())
        return any(path.startswith(p) for p in prefixes) or path in self.area_paths


def minimal_prefixes(paths: Iterable[str]) -> tuple[str, ...]:
    """Drop paths already covered by a shorter prefix, so filters stay small."""
    out: list[str] = []
    for p in sorted(set(paths), key=len):
        if not any(p.startswith(q) for q in out):
            out.append(p)
    return tuple(sorted(out))


ANONYMOUS_SCOPE = Scope(user_id=None)


# --- the principal ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MembershipRecord:
    role: str
    area_id: int | None = None
    area_path: str = ""
    organisation_id: int | None = None
    organisation_area_path: str = ""
    # A membership of another user (A) that this user holds for the time being, standing in for A while
    # A is on leave (AB岗, accounts/posts.py): A's user id; None for the user's own memberships.
    on_behalf_of: int | None = None


class Principal:
    """Who is asking. Attribute names `user`, `roles`, `paths[role]`, `area_ids[role]`, `org_ids[role]`
    are what workflow conditions read."""

    def __init__(self, user=None):
        self.user = user
        self.user_id: int | None = getattr(user, "pk", None) if _authenticated(user) else None
        self.roles: frozenset[str] = frozenset()
        self.memberships: tuple[MembershipRecord, ...] = ()
        self.paths: dict[str, list[str]] = defaultdict(list)
        self.area_ids: dict[str, set[int]] = defaultdict(set)
        self.org_ids: dict[str, set[int]] = defaultdict(set)
        self.scope: Scope = Scope(user_id=self.user_id)
        self._parts: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Principal user={self.user_id} roles={sorted(self.roles)}>"

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def covering(self) -> frozenset[int]:
        """The users this user stands in for right now (their memberships are among `memberships`)."""
        return frozenset(m.on_behalf_of for m in self.memberships if m.on_behalf_of is not None)

    def restricted(self, on_behalf_of: int | None) -> Principal:
        """The same user holding only some memberships: their own (None), or those they hold for the
        colleague `on_behalf_of` (what workflow rules read; the scope and parts are not copied)."""
        view = Principal(self.user)
        view.set_memberships(m for m in self.memberships if m.on_behalf_of == on_behalf_of)
        return view

    def set_memberships(self, records: Iterable[MembershipRecord]) -> None:
        """Fill roles and the per-role groupings from membership records (loaders call this)."""
        self.memberships = tuple(records)
        self.roles = frozenset(m.role for m in self.memberships)
        for m in self.memberships:
            if m.area_id:
                self.paths[m.role].append(m.area_path)
                self.area_ids[m.role].add(m.area_id)
            if m.organisation_id:
                self.org_ids[m.role].add(m.organisation_id)

    # --- parts that apps add (lazily) ------------------------------------------------------------
    def part(self, name: str, default: Any = None) -> Any:
        if name not in self._parts:
            loader = _lazy_loaders.get(name)
            self._parts[name] = loader(self) if (loader and self.user_id is not None) else default
        value = self._parts[name]
        return default if value is None else value

    def set_part(self, name: str, value: Any) -> None:
        self._parts[name] = value

    @property
    def pii(self) -> PiiPolicy:
        """Where this user may see personal information unmasked (registry's loader: roles + grants)."""
        return self.part("pii", NO_PII)

    # --- the scope, also on the principal --------------------------------------------------------
    @property
    def is_empty(self) -> bool:
        return self.scope.is_empty

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def area_filter(self, path_field: str = "path", *, include_jurisdiction: bool = False) -> Q:
        return self.scope.area_filter(path_field, include_jurisdiction=include_jurisdiction)

    def visible_paths(self, *, include_jurisdiction: bool = False) -> tuple[str, ...] | None:
        return self.scope.visible_paths(include_jurisdiction=include_jurisdiction)

    def can_see_path(self, path: str, *, include_jurisdiction: bool = False) -> bool:
        return self.scope.can_see_path(path, include_jurisdiction=include_jurisdiction)


def _authenticated(user) -> bool:
    return user is not None and bool(getattr(user, "is_authenticated", False))


_loaders: list[Callable[[Principal], None]] = []
_lazy_loaders: dict[str, Callable[[Principal], Any]] = {}
CACHE_ATTR = "_gridgov_principal"


def register_loader(fn: Callable[[Principal], Any], *, part: str | None = None) -> None:
    """Add a piece of the principal. Without `part`, fn(principal) runs when the principal is loaded
    and fills it in place; with `part`, fn(principal) returns the part's value on its first use."""
    if part is not None:
        _lazy_loaders[part] = fn
    elif fn not in _loaders:
        _loaders.append(fn)


def principal_for(user) -> Principal:
    """The user's principal, loaded once and cached on the user object (so once per request)."""
    if isinstance(user, Principal):
        return user
    if not _authenticated(user):
        return Principal(user)
    cached = getattr(user, CACHE_ATTR, None)  # (request.user is a lazy proxy: no __dict__ look-up)
    if cached is not None:
        return cached
    principal = Principal(user)
    for fn in _loaders:
        fn(principal)
    setattr(user, CACHE_ATTR, principal)
    return principal


def forget(user) -> None:
    """Drop a cached principal (after the user's memberships or grants changed in this request)."""
    if user is not None and getattr(user, CACHE_ATTR, None) is not None:
        delattr(user, CACHE_ATTR)


# --- permissions ------------------------------------------------------------------------------------
DEFAULT_MESSAGE = gettext_lazy("You are not allowed to do this")
NOT_FOUND_MESSAGE = gettext_lazy("Nothing here, or it is outside your area.")


@dataclass(frozen=True)
class Permission:
    """Who holds a permission: any of `roles` (None: any signed-in user), and (when given)
    `check(principal, obj)` is true."""

    roles: frozenset[str] | None
    check: Callable[[Principal, Any], bool] | None = None
    message: Any = None  # a gettext_lazy text; DEFAULT_MESSAGE when None
    # Reads whose very existence is not for the user answer 404 like anything outside their scope
    # (still audited); everything else answers 403.
    hide: bool = False

    def allows(self, principal: Principal, obj: Any = None) -> bool:
        if not principal.is_authenticated:
            return False
        if self.roles is not None and not principal.has_role(*self.roles):
            return False
        return self.check is None or bool(self.check(principal, obj))


PERMISSIONS: dict[str, Permission] = {}


def declare(permissions: dict[str, Permission | Iterable[str]]) -> dict[str, Permission]:
    """Declare an app's permissions (name → Permission, or name → roles) in one place."""
    out = {}
    for name, value in permissions.items():
        perm = value if isinstance(value, Permission) else Permission(frozenset(value))
        if name in PERMISSIONS and PERMISSIONS[name] != perm:
            raise ValueError(f"permission {name!r} is declared twice")
        PERMISSIONS[name] = out[name] = perm
    return out


def allows(principal, permission: str, obj: Any = None) -> bool:
    """Whether the principal holds the permission (no audit: for showing what a user may do)."""
    return PERMISSIONS[permission].allows(principal_for(principal), obj)


@dataclass
class Denial:
    """A refusal on its way to the audit log."""

    user: Any
    action: str
    object_type: str = ""
    object_id: str = ""
    request: Any = None
    written: bool = False


def _target(obj: Any) -> tuple[str, str]:
    if obj is None:
        return "", ""
    if isinstance(obj, tuple) and len(obj) == 2:
        return str(obj[0]), "" if obj[1] is None else str(obj[1])
    meta = getattr(obj, "_meta", None)
    if meta is not None:
        return meta.model_name, str(getattr(obj, "pk", "") or "")
    return type(obj).__name__.lower(), ""


def require(principal, permission: str, obj: Any = None, *, request=None) -> Principal:
    """Check a declared permission; on refusal record it (never lost to a rollback) and raise Forbidden.

    `obj` is passed to the permission's object check and names the target in the audit record: a model
    instance, or a ("type", id) pair. Returns the principal."""
    perm = PERMISSIONS[permission]
    principal = principal_for(principal)
    if perm.allows(principal, obj):
        return principal
    if not principal.is_authenticated:
        raise NotAuthenticated()
    object_type, object_id = _target(obj)
    exc = forbidden(
        principal.user,
        action=permission,
        request=request,
        object_type=object_type,
        object_id=object_id,
        message=str(perm.message or DEFAULT_MESSAGE),
    )
    if perm.hide:
        raise NotFound(str(perm.message or NOT_FOUND_MESSAGE)) from exc
    raise exc


def forbidden(
    user, *, action: str, request=None, object_type: str = "", object_id: Any = "", message: str | None = None
) -> Forbidden:
    """Record a refusal (see `record_denial`) and return the Forbidden for the caller to raise."""
    denial = Denial(user, action, object_type, "" if object_id is None else str(object_id), request)
    record_denial(denial)
    exc = Forbidden(message or str(DEFAULT_MESSAGE))
    exc.denial = denial  # type: ignore[attr-defined]
    return exc


# --- writing refusals outside the transaction that rolls back ----------------------------------------
_writer: Callable[[Denial], None] | None = None
_local = threading.local()


def register_denial_writer(fn: Callable[[Denial], None]) -> None:
    global _writer
    _writer = fn


def _pending() -> list[Denial]:
    if not hasattr(_local, "pending"):
        _local.pending = []
    return _local.pending


def in_transaction(using: str | None = None) -> bool:
    """Inside an atomic block that may still roll back (the test runner's own wrapping blocks aside)."""
    conn = connections[using or "default"]
    if not conn.in_atomic_block:
        return False
    return any(not getattr(block, "_from_testcase", False) for block in conn.atomic_blocks)


def _write(denial: Denial) -> None:
    if denial.written or _writer is None:
        return
    denial.written = True
    _writer(denial)


def record_denial(denial: Denial) -> None:
    if in_transaction():
        _pending().append(denial)
    else:
        _write(denial)


def flush_denials() -> int:
    """Write the refusals that waited for a transaction to end; returns how many were written."""
    pending = _pending()
    n = 0
    while pending:
        denial = pending.pop(0)
        if not denial.written:
            _write(denial)
            n += 1
    return n
