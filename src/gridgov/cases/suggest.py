"""Duplicate candidates and category suggestions for cases, on top of the pure engines in
`textsim.py` (duplicate detection) and `classifier.py` (category suggestions).

- `duplicates_for(case)`: open cases of the same community, reported within 72 hours and about
  100 m of the case, scored by `textsim.duplicate_candidates`.
- `train_classifier()`: learns the 小类 of closed and rated cases from their descriptions and
  saves the model in `DATA_DIR/models/`; `train_classifier_task()` is the nightly job;
  `train_if_missing()` trains one when none is saved (`gridgov demo` at its end, the worker when it
  starts) and `schedule_training()` queues that in the background when a request finds no model.
- `suggest_categories(text)`: the top-k active categories for a text, from the saved model.

See docs/cases-text.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.cases.classifier import MODEL_FILENAME, CategoryClassifier
from gridgov.cases.models import OPEN_STATUSES, Case, Category, Status
from gridgov.cases.textsim import Report, duplicate_candidates
from gridgov.territory import paths

log = logging.getLogger(__name__)

RADIUS_M = 100
WINDOW_H = 72
MIN_SCORE = 0.35
MIN_TRAINING_CASES = 30
MAX_TRAINING_CASES = 50_000
_M_PER_DEG_LAT = 111_320.0
_BBOX_MARGIN = 1.05  # a little wider than the radius: the exact distance is measured afterwards


# --- duplicates ---------------------------------------------------------------------------------
def _bbox(lng: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    dlat = radius_m * _BBOX_MARGIN / _M_PER_DEG_LAT
    dlng = radius_m * _BBOX_MARGIN / (_M_PER_DEG_LAT * max(math.cos(math.radians(lat)), 1e-6))
    return lng - dlng, lat - dlat, lng + dlng, lat + dlat


def _category_code(case: Case) -> str | None:
    return case.category.code if case.category_id else None


def draft_case(
    *, description: str, lng=None, lat=None, crs: str = "wgs84", area_code=None, category_code=None
) -> Case | None:
    """An unsaved case for a report not yet submitted (duplicates at the intake form): located like an
    intake; None when it has no place (no point inside a grid and no known area)."""
    from gridgov.territory import geo, locator
    from gridgov.territory.models import Area

    area = None
    if lng is not None and lat is not None:
        lng, lat = (float(v) for v in geo.to_wgs84(lng, lat, crs))
        area = locator.locate(lng, lat)
    else:
        lng = lat = None
    if area is None and area_code:
        area = Area.objects.filter(code=area_code, is_active=True).first()
    if area is None:
        return None
    category = Category.objects.filter(code=category_code).first() if category_code else None
    return Case(description=description, lng=lng, lat=lat, area=area, grid=area, category=category)


def duplicates_for(
    case: Case,
    *,
    now: dt.datetime | None = None,
    limit: int = 5,
    within: QuerySet[Case] | None = None,
    radius_m: float = RADIUS_M,
    window_h: float = WINDOW_H,
) -> list[dict[str, Any]]:
    """Possible duplicates of `case`, best first, as dicts for the dispatcher.

    Candidates are cases of the same community that are still open (not closed, rated, rejected
    or merged), created at most `window_h` hours before or after the case and lying in a box of
    about `radius_m` around its point (cases without a point are kept; the engine counts their
    place as unknown). `within` narrows them further (e.g. to the cases a user may see). Related
    categories are those of the same 大类.
    """
    now = now or timezone.now()
    at = case.created_at or now
    qs = within if within is not None else Case.objects.all()
    qs = qs.filter(
        area__path__startswith=paths.community_path(case.area.path),
        status__in=OPEN_STATUSES,
        merged_into__isnull=True,
        created_at__gte=at - dt.timedelta(hours=window_h),
        created_at__lte=at + dt.timedelta(hours=window_h),
    ).exclude(pk=case.pk)
    if case.lng is not None and case.lat is not None:
        min_lng, min_lat, max_lng, max_lat = _bbox(case.lng, case.lat, radius_m)
        qs = qs.filter(
            Q(lng__gte=min_lng, lng__lte=max_lng, lat__gte=min_lat, lat__lte=max_lat)
            | Q(lng__isnull=True)
            | Q(lat__isnull=True)
        )
    others = list(qs.select_related("category__parent").order_by("-created_at", "-id")[:500])
    if not others:
        return []

    parents = {
        c.code: (c.parent.code if c.parent_id else c.code)
        for c in [case.category, *(o.category for o in others)]
        if c is not None
    }

    def related(a: str, b: str) -> bool:
        return a in parents and b in parents and parents[a] == parents[b]

    def as_report(c: Case) -> Report:
        return Report(
            id=c.pk, text=c.description, lng=c.lng, lat=c.lat, at=c.created_at, category=_category_code(c)
        )

    new = Report(
        id=case.pk, text=case.description, lng=case.lng, lat=case.lat, at=at, category=_category_code(case)
    )
    by_id = {o.pk: o for o in others}
    found = duplicate_candidates(
        new,
        [as_report(o) for o in others],
        radius_m=radius_m,
        window_h=window_h,
        related=related,
        min_score=MIN_SCORE,
        limit=limit,
    )
    out = []
    for cand in found:
        other = by_id[cand.id]
        out.append(
            {
                "case_id": other.pk,
                "number": other.number,
                "score": cand.score,
                "distance_m": cand.distance_m,
                "hours_apart": cand.hours_apart,
                "text_similarity": cand.text_similarity,
                "same_category": cand.same_category,
                "status": other.status,
                "description": other.description,
            }
        )
    return out


# --- category suggestions -----------------------------------------------------------------------
def model_path(data_dir: Path | str | None = None) -> Path:
    return Path(data_dir or settings.DATA_DIR) / "models" / MODEL_FILENAME


def training_cases(limit: int = MAX_TRAINING_CASES) -> list[tuple[str, str]]:
    """(description, 小类 code) of the most recent closed and rated cases with a subcategory."""
    rows = (
        Case.objects.filter(
            status__in=(Status.CLOSED, Status.RATED),
            merged_into__isnull=True,
            category__isnull=False,
            category__parent__isnull=False,
        )
        .exclude(description="")
        .order_by("-closed_at", "-id")
        .values_list("description", "category__code")[:limit]
    )
    return [(text, code) for text, code in rows if text and text.strip()]


def train_classifier(
    min_cases: int = MIN_TRAINING_CASES, *, data_dir: Path | str | None = None
) -> dict[str, Any]:
    """Train the category classifier on closed cases and save it (under `data_dir`, by default the
    server's data directory); counts of what was learnt. With fewer than `min_cases` labelled cases
    nothing is trained or saved."""
    rows = training_cases()
    if len(rows) < min_cases:
        return {
            "trained": False,
            "cases": len(rows),
            "reason": _("Only %(n)d labelled closed cases; at least %(min)d are needed.")
            % {"n": len(rows), "min": min_cases},
        }
    texts = [t for t, _label in rows]
    labels = [label for _text, label in rows]
    model = CategoryClassifier().fit(texts, labels)
    path = model_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return {"trained": True, "cases": len(rows), "categories": len(model.classes_), "path": str(path)}


def train_classifier_task(*, data_dir: Path | str | None = None) -> dict[str, Any]:
    """The nightly retraining job (registered as a periodic task by the cases tasks module)."""
    result = train_classifier(data_dir=data_dir)
    if result["trained"]:
        log.info(
            "category classifier trained on %s cases, %s categories", result["cases"], result["categories"]
        )
    else:
        log.info("category classifier not trained: %s", result["reason"])
    return result


def train_if_missing(*, data_dir: Path | str | None = None) -> dict[str, Any]:
    """Train the model only when none has been saved yet (a new install, a fresh demo)."""
    if model_path(data_dir).exists():
        return {"trained": False, "cases": 0, "reason": "a model exists"}
    return train_classifier_task(data_dir=data_dir)


SCHEDULE_RETRY_SECONDS = 600
_scheduled: dict[str, float] = {"at": -math.inf}
_schedule_lock = threading.Lock()


def schedule_training(*, now: float | None = None) -> bool:
    """Queue `train_if_missing` as a background task (at most once per `SCHEDULE_RETRY_SECONDS` in a
    process): a request that finds no model never waits for the training. True when queued."""
    import time

    now = time.monotonic() if now is None else now
    with _schedule_lock:
        if now - _scheduled["at"] < SCHEDULE_RETRY_SECONDS:
            return False
        _scheduled["at"] = now
    try:
        from gridgov.cases.tasks import train_category_classifier_if_missing

        train_category_classifier_if_missing()
    except Exception:  # noqa: BLE001 - a queue that is briefly unavailable: the next request tries again
        log.exception("cannot queue the category classifier training")
        with _schedule_lock:
            _scheduled["at"] = -math.inf
        return False
    return True


_cache_lock = threading.Lock()
_cache: dict[str, Any] = {"key": None, "model": None}


def _load_model() -> CategoryClassifier | None:
    """The saved model, loaded once and again whenever the file changes; None without one."""
    path = model_path()
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _cache_lock:
        if _cache["key"] == key:
            return _cache["model"]
        try:
            model = CategoryClassifier.load(path)
        except Exception:
            log.exception("cannot load the category model %s", path)
            model = None
        _cache["key"], _cache["model"] = key, model
        return model


def suggest_categories(text: str, k: int = 3) -> list[dict[str, Any]]:
    """Top-k active subcategories for a description: [{code, name, score}], best first; [] when no
    model has been trained yet."""
    if not text or not text.strip() or k <= 0:
        return []
    model = _load_model()
    if model is None:
        schedule_training()  # a new install: learn from the closed cases in the background
        return []
    ranked = model.suggest(text, k=len(model.classes_))
    names = dict(
        Category.objects.filter(code__in=[code for code, _score in ranked], is_active=True).values_list(
            "code", "name"
        )
    )
    out = []
    for code, score in ranked:
        if code in names:
            out.append({"code": code, "name": names[code], "score": score})
            if len(out) >= k:
                break
    return out
