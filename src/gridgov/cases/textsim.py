"""Duplicate detection and grouping of reports (诉求/案件) by place, time, category and text.

Pure Python + numpy + scikit-learn, no Django: the cases services call it at intake with the
recent reports they selected, and `gridgov cases cluster` runs it over a CSV export.

Text similarity is the cosine of character n-gram TF-IDF vectors (`char_wb`, 1–3 characters,
sublinear tf) of normalised text: NFKC folds full-width letters, digits and punctuation to
half-width, letters are lower-cased, punctuation and symbols become spaces and runs of
whitespace collapse to one space. Character n-grams need no word segmenter and are robust to
the spelling variants of place names.

See docs/cases-text.md for the scoring weights and the clustering rules.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer

EARTH_RADIUS_M = 6_371_008.8

# Weights of the duplicate score (they sum to 1). Text carries the most; place, time and category
# each raise a candidate that passed the radius, window and category filters.
W_TEXT = 0.50
W_PLACE = 0.15
W_TIME = 0.10
W_CATEGORY = 0.25
# Category part: same category 1, related category 0.5, unknown (either side blank) 0.5, other 0.
RELATED_CATEGORY_CREDIT = 0.5
UNKNOWN_CREDIT = 0.5
# A candidate whose text similarity is below this is never a duplicate (nothing but trivia shared).
MIN_TEXT_SIMILARITY = 0.10
# A candidate of an unrelated category is kept only when its text is at least this similar: the
# same words under another category are most likely a report filed under the wrong category,
# while different words under another category are a different problem at the same place.
OTHER_CATEGORY_MIN_TEXT = 0.50

NGRAM_RANGE = (1, 3)


@dataclass(frozen=True, slots=True)
class Report:
    """One report: `id` is whatever identifies it for the caller (a primary key, a row number)."""

    id: Any
    text: str
    lng: float | None = None
    lat: float | None = None
    at: datetime | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A possible duplicate of a new report, with the parts its score was made of."""

    id: Any
    score: float
    distance_m: float | None
    hours_apart: float | None
    text_similarity: float
    same_category: bool | None


class TableError(ValueError):
    """A file or a column that cannot be read; the CLI prints it and exits with code 2."""


# ---------------------------------------------------------------------------------------------
# text


_NON_WORD = re.compile(r"[\W_]+")


def normalize_text(text: str | None) -> str:
    """NFKC (full-width → half-width), lower case, punctuation/symbols → space, whitespace collapsed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    return _NON_WORD.sub(" ", text).strip()


def make_vectorizer(**overrides: Any) -> TfidfVectorizer:
    params: dict[str, Any] = {
        "analyzer": "char_wb",
        "ngram_range": NGRAM_RANGE,
        "sublinear_tf": True,
        "lowercase": False,
        "dtype": np.float32,
    }
    params.update(overrides)
    return TfidfVectorizer(**params)


def _tfidf(texts: Sequence[str]) -> sparse.csr_matrix:
    """L2-normalised TF-IDF rows of already normalised texts (empty texts give zero rows)."""
    if not any(texts):
        return sparse.csr_matrix((len(texts), 1), dtype=np.float32)
    matrix = make_vectorizer().fit_transform(texts)
    return sparse.csr_matrix(matrix, dtype=np.float32)


def text_similarity(a: str, b: str) -> float:
    """Cosine similarity of two texts (vectoriser fitted on the two)."""
    x = _tfidf([normalize_text(a), normalize_text(b)])
    return float(min(1.0, (x[0] @ x[1].T).toarray()[0, 0]))


# ---------------------------------------------------------------------------------------------
# place and time


def haversine_m(lng1: Any, lat1: Any, lng2: Any, lat2: Any) -> np.ndarray:
    """Great-circle distance in metres (vectorised over numpy arrays, degrees in)."""
    lng1, lat1, lng2, lat2 = (np.radians(np.asarray(v, dtype=np.float64)) for v in (lng1, lat1, lng2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lng2 - lng1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _has_point(r: Report) -> bool:
    return (
        r.lng is not None
        and r.lat is not None
        and math.isfinite(r.lng)
        and math.isfinite(r.lat)
        and -180 <= r.lng <= 180
        and -90 <= r.lat <= 90
    )


def _hours(at: datetime) -> float:
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: report times must be timezone-aware")
    return at.timestamp() / 3600.0


def related_by_prefix(sep: str = "/") -> Callable[[str, str], bool]:
    """A `related` callable: two categories are related when they share the 大类 before `sep`
    (e.g. "市容环卫/暴露垃圾" and "市容环卫/占道经营")."""

    def related(a: str, b: str) -> bool:
        return bool(a) and bool(b) and a.split(sep, 1)[0] == b.split(sep, 1)[0]

    return related


# ---------------------------------------------------------------------------------------------
# duplicate candidates at intake


def duplicate_candidates(
    new: Report,
    recent: Sequence[Report],
    *,
    radius_m: float = 100,
    window_h: float = 72,
    related: Callable[[str, str], bool] | None = None,
    min_score: float = 0.35,
    limit: int = 5,
) -> list[Candidate]:
    """Reports in `recent` that may describe the same problem as `new`, best first.

    A report is a candidate when it lies within `radius_m` of `new` and within `window_h` hours
    of it (each test is skipped when either side lacks the point or the time), its text
    similarity is at least MIN_TEXT_SIMILARITY, its category is the same, related or unknown
    (or, for any other category, its text similarity is at least OTHER_CATEGORY_MIN_TEXT) and
    its score is at least `min_score`. The TF-IDF weights are fitted on `new` and the reports
    that passed the place and time filters, so words every nearby report shares (the place
    name) weigh less than the words that describe the problem.

    score = W_TEXT·text + W_PLACE·(1 − d/radius) + W_TIME·(1 − Δt/window) + W_CATEGORY·category,
    in [0, 1]; a missing point or time counts 0.5 for its part; category is 1 for the same
    category, 0.5 for a related one (`related(a, b)` true), 0 otherwise, 0.5 when unknown.
    Ties are broken by the order of `recent`, so the result is deterministic.
    """
    others = [r for r in recent if r is not new and (new.id is None or r.id != new.id)]
    if not others:
        return []
    n = len(others)
    keep = np.ones(n, dtype=bool)

    distance = np.full(n, np.nan)
    if _has_point(new):
        has = np.array([_has_point(r) for r in others])
        if has.any():
            lng = np.array([r.lng if h else 0.0 for r, h in zip(others, has, strict=True)], dtype=np.float64)
            lat = np.array([r.lat if h else 0.0 for r, h in zip(others, has, strict=True)], dtype=np.float64)
            d = haversine_m(new.lng, new.lat, lng, lat)
            distance = np.where(has, d, np.nan)
            keep &= ~has | (d <= radius_m)

    hours = np.full(n, np.nan)
    if new.at is not None:
        t0 = _hours(new.at)
        has_t = np.array([r.at is not None for r in others])
        if has_t.any():
            t = np.array([_hours(r.at) if r.at is not None else t0 for r in others])
            dt = np.abs(t - t0)
            hours = np.where(has_t, dt, np.nan)
            keep &= ~has_t | (dt <= window_h)

    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return []
    texts = [normalize_text(new.text)] + [normalize_text(others[i].text) for i in idx]
    x = _tfidf(texts)
    sims = np.clip(np.asarray((x[1:] @ x[0].T).todense()).ravel(), 0.0, 1.0)

    place = np.where(np.isnan(distance[idx]), UNKNOWN_CREDIT, 1.0 - np.nan_to_num(distance[idx]) / radius_m)
    when = np.where(np.isnan(hours[idx]), UNKNOWN_CREDIT, 1.0 - np.nan_to_num(hours[idx]) / window_h)
    place = np.clip(place, 0.0, 1.0)
    when = np.clip(when, 0.0, 1.0)

    same: list[bool | None] = []
    cat_credit = np.empty(idx.size)
    for k, i in enumerate(idx):
        a, b = new.category, others[i].category
        if not a or not b:
            same.append(None)
            cat_credit[k] = UNKNOWN_CREDIT
        elif a == b:
            same.append(True)
            cat_credit[k] = 1.0
        else:
            same.append(False)
            cat_credit[k] = RELATED_CATEGORY_CREDIT if related is not None and related(a, b) else 0.0

    other_category = np.array([s is False for s in same]) & (cat_credit == 0.0)
    scores = W_TEXT * sims + W_PLACE * place + W_TIME * when + W_CATEGORY * cat_credit
    scores = np.clip(scores, 0.0, 1.0)
    ok = (sims >= MIN_TEXT_SIMILARITY) & (scores >= min_score)
    ok &= ~other_category | (sims >= OTHER_CATEGORY_MIN_TEXT)
    order = sorted(np.flatnonzero(ok), key=lambda k: (-round(float(scores[k]), 9), int(k)))
    result = []
    for k in order[: max(0, limit)]:
        i = idx[k]
        result.append(
            Candidate(
                id=others[i].id,
                score=round(float(scores[k]), 4),
                distance_m=None if np.isnan(distance[i]) else round(float(distance[i]), 1),
                hours_apart=None if np.isnan(hours[i]) else round(float(hours[i]), 2),
                text_similarity=round(float(sims[k]), 4),
                same_category=same[k],
            )
        )
    return result


# ---------------------------------------------------------------------------------------------
# grouping a batch


def _expand_ranges(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [starts[k], ends[k]) return (owner k, position) of every element, vectorised."""
    lengths = np.maximum(ends - starts, 0)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    owner = np.repeat(np.arange(starts.size, dtype=np.int64), lengths)
    offsets = np.cumsum(lengths) - lengths
    pos = np.arange(total, dtype=np.int64) - np.repeat(offsets, lengths) + np.repeat(starts, lengths)
    return owner, pos


def _cell_pairs(cells: np.ndarray, offsets: list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j), i ≠ j, each once, of rows whose integer cells differ by one of `offsets`
    (a half neighbourhood: (0,…,0) plus one of each ± pair)."""
    n, dims = cells.shape
    lo = cells.min(axis=0)
    span = cells.max(axis=0) - lo + 3
    c = cells - lo + 1
    mult = np.ones(dims, dtype=np.int64)
    for d in range(dims - 2, -1, -1):
        mult[d] = mult[d + 1] * span[d + 1]
    keys = (c * mult).sum(axis=1)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    out_i, out_j = [], []
    for off in offsets:
        target = keys + int((np.asarray(off, dtype=np.int64) * mult).sum())
        starts = np.searchsorted(sorted_keys, target, side="left")
        ends = np.searchsorted(sorted_keys, target, side="right")
        owner, pos = _expand_ranges(starts, ends)
        j = order[pos]
        if not any(off):
            keep = j > owner
            owner, j = owner[keep], j[keep]
        out_i.append(owner)
        out_j.append(j)
    return np.concatenate(out_i), np.concatenate(out_j)


def _half_offsets(dims: int) -> list[tuple[int, ...]]:
    import itertools

    offs = [o for o in itertools.product((-1, 0, 1), repeat=dims) if o > (0,) * dims]
    return [(0,) * dims, *offs]


def _pair_similarity(x: sparse.csr_matrix, i: np.ndarray, j: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    out = np.empty(i.size, dtype=np.float32)
    for s in range(0, i.size, chunk):
        a = x[i[s : s + chunk]]
        b = x[j[s : s + chunk]]
        out[s : s + chunk] = np.asarray(a.multiply(b).sum(axis=1)).ravel()
    return out


def _prefix_matrix(x: sparse.csr_matrix, threshold: float) -> sparse.csr_matrix:
    """Binary matrix of each row's prefix features for the all-pairs cosine threshold search.

    Features are ordered rarest first (global document frequency). A row's prefix is its
    rarest features up to the point where the rest (its suffix) has an L2 norm below the
    threshold. Two unit rows whose cosine reaches the threshold share a feature in both prefixes
    (their first common feature in the global order), so pairs that share no prefix feature can
    be skipped without losing any pair.
    """
    x = x.tocsr()
    if x.nnz == 0:
        return sparse.csr_matrix(x.shape, dtype=np.float32)
    df = np.bincount(x.indices, minlength=x.shape[1])
    rank = np.empty(x.shape[1], dtype=np.int64)
    rank[np.argsort(df, kind="stable")] = np.arange(x.shape[1])
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    order = np.lexsort((rank[x.indices], rows))
    w2 = x.data[order].astype(np.float64) ** 2
    cols = x.indices[order]
    # suffix mass after each entry, within its row
    total = np.cumsum(w2)
    row_end = total[np.maximum(x.indptr[1:] - 1, 0)]
    row_end = np.where(np.diff(x.indptr) > 0, row_end, 0.0)
    after = np.repeat(row_end, np.diff(x.indptr)) - total
    t2 = (threshold * (1 - 1e-4)) ** 2
    # entry e is in the prefix when the mass strictly after the previous entry is ≥ t²,
    # i.e. the prefix ends at the first entry whose remaining suffix mass drops below t².
    before = after + w2
    keep = before >= t2
    keep_rows = rows[keep]
    return sparse.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (keep_rows, cols[keep])), shape=x.shape
    )


def _text_pairs(
    x: sparse.csr_matrix,
    threshold: float,
    *,
    hours: np.ndarray | None = None,
    window_h: float = 72,
    max_posting: int | None = None,
    block: int = 2000,
    chunk: int = 50_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs with cosine ≥ threshold (and, with `hours`, at most `window_h` apart) that connect
    the same components as all such pairs do: a candidate pair whose rows are already connected
    through pairs found before is skipped.

    Candidates are the pairs that share a prefix feature (see `_prefix_matrix`), found by
    blocked sparse products (rows in time order against the rows of the same and the next time
    bucket when there are times); each candidate's cosine is then computed exactly. With
    `max_posting`, prefix features found in more rows than that are not used to find candidates
    (bounded work on heavily templated text; a pair sharing nothing rarer is then missed).
    """
    n = x.shape[0]
    p = _prefix_matrix(x, threshold)
    if max_posting is not None and p.nnz:
        df = np.bincount(p.indices, minlength=p.shape[1])
        common = df > max_posting
        if common.any():
            p = p.tocoo()
            keep = ~common[p.col]
            p = sparse.csr_matrix((p.data[keep], (p.row[keep], p.col[keep])), shape=x.shape)
    if hours is not None:
        order = np.argsort(hours, kind="stable")
        bucket = np.floor((hours - hours.min()) / max(window_h, 1e-9)).astype(np.int64)
        sorted_bucket = bucket[order]
        blocks = []
        for b in np.unique(sorted_bucket):
            a0, a1 = np.searchsorted(sorted_bucket, [b, b + 1])
            b1 = np.searchsorted(sorted_bucket, b + 2)
            for s in range(a0, a1, block):
                blocks.append((order[s : min(a1, s + block)], order[s:b1]))
    else:
        everything = np.arange(n)
        blocks = [(everything[s : s + block], everything[s:]) for s in range(0, n, block)]
    out_i, out_j = [], []
    # components found so far: a candidate pair already connected needs no similarity
    comp = np.arange(n)
    for rows_a, rows_b in blocks:
        cand = (p[rows_a] @ p[rows_b].T).tocoo()
        ci = rows_a[cand.row]
        cj = rows_b[cand.col]
        if hours is not None:
            ok = (ci != cj) & (np.abs(hours[ci] - hours[cj]) <= window_h)
            # within the same block both orders appear; keep one
            ok &= (ci < cj) | ~np.isin(cj, rows_a)
        else:
            ok = cj > ci
        ci, cj = ci[ok], cj[ok]
        for s in range(0, ci.size, chunk):
            a, b = ci[s : s + chunk], cj[s : s + chunk]
            todo = comp[a] != comp[b]
            a, b = a[todo], b[todo]
            if a.size == 0:
                continue
            hit = _pair_similarity(x, a, b) >= threshold
            a, b = a[hit], b[hit]
            if a.size == 0:
                continue
            out_i.append(a)
            out_j.append(b)
            links = sparse.coo_matrix((np.ones(a.size, dtype=np.int8), (comp[a], comp[b])), shape=(n, n))
            _, merged = connected_components(links, directed=False)
            comp = merged[comp]
    if not out_i:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(out_i), np.concatenate(out_j)


def cluster_reports(
    reports: Sequence[Report],
    *,
    radius_m: float = 100,
    window_h: float = 72,
    text_threshold: float = 0.5,
    max_posting: int | None = 500,
) -> list[int | None]:
    """Group ids (1, 2, … in order of first appearance; None for a report with no duplicate).

    Two reports are linked when their texts have cosine similarity ≥ `text_threshold` and, when
    the batch has points, they are within `radius_m`, and, when the batch has times, within
    `window_h` hours. Groups are the connected components of these links (a chain a–b–c is one
    group even when a and c are not linked directly). When a batch has points (or times), a
    report without one is left ungrouped.

    With points, candidate pairs come from grid cells a little larger than the radius (× time
    buckets of `window_h` when there are times); the exact distance, time and text tests follow.
    Without points, candidate pairs are those sharing a prefix n-gram (see `_prefix_matrix`),
    in time buckets when there are times. Text alone over a large file: n-grams found in more
    than `max_posting` rows' prefixes are not used to find candidates, which bounds the work on
    heavily templated text; a pair that shares nothing rarer can then be missed (None: exact).
    """
    n = len(reports)
    if n < 2:
        return [None] * n
    texts = [normalize_text(r.text) for r in reports]
    has_pt = np.array([_has_point(r) for r in reports])
    has_t = np.array([r.at is not None for r in reports])
    use_pt = bool(has_pt.any())
    use_t = bool(has_t.any())
    usable = np.array([bool(t) for t in texts])
    if use_pt:
        usable &= has_pt
    if use_t:
        usable &= has_t
    rows = np.flatnonzero(usable)
    if rows.size < 2:
        return [None] * n
    x = _tfidf([texts[i] for i in rows])
    hours = np.array([_hours(reports[i].at) for i in rows]) if use_t else None

    if use_pt:
        lng = np.array([reports[i].lng for i in rows], dtype=np.float64)
        lat = np.array([reports[i].lat for i in rows], dtype=np.float64)
        # metres on a local equirectangular projection; cells a little larger than the radius
        # so that every pair within the radius lies in the same or a neighbouring cell.
        lat0 = math.radians(float(np.median(lat)))
        mx = np.radians(lng) * EARTH_RADIUS_M * max(math.cos(lat0), 1e-6)
        my = np.radians(lat) * EARTH_RADIUS_M
        # the projection stretches distances away from lat0; widen cells to stay safe
        stretch = max(math.cos(lat0) / max(float(np.cos(np.radians(lat)).min()), 1e-6), 1.0)
        cell = radius_m * 1.05 * stretch
        cols = [np.floor(mx / cell), np.floor(my / cell)]
        if use_t:
            cols.append(np.floor(hours / max(window_h, 1e-9)))
        cells = np.stack(cols, axis=1).astype(np.int64)
        pi, pj = _cell_pairs(cells, _half_offsets(cells.shape[1]))
        ok = haversine_m(lng[pi], lat[pi], lng[pj], lat[pj]) <= radius_m
        if use_t:
            ok &= np.abs(hours[pi] - hours[pj]) <= window_h
        pi, pj = pi[ok], pj[ok]
        sims = _pair_similarity(x, pi, pj)
        ok = sims >= text_threshold - 1e-6
        pi, pj = pi[ok], pj[ok]
    else:
        pi, pj = _text_pairs(
            x,
            text_threshold - 1e-6,
            hours=hours,
            window_h=window_h,
            max_posting=None if use_t else max_posting,
        )

    m = rows.size
    graph = sparse.coo_matrix((np.ones(pi.size, dtype=np.int8), (pi, pj)), shape=(m, m))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    result: list[int | None] = [None] * n
    numbering: dict[int, int] = {}
    for k, row in enumerate(rows):
        lab = int(labels[k])
        if sizes[lab] < 2:
            continue
        if lab not in numbering:
            numbering[lab] = len(numbering) + 1
        result[int(row)] = numbering[lab]
    return result


# ---------------------------------------------------------------------------------------------
# reading exports


def decode_bytes(raw: bytes, path: str | Path = "") -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK and GB2312)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError(f"{path}: not UTF-8 or GBK/GB18030 text")


def read_table(path: str | Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV file in UTF-8 (with or without BOM) or GBK/GB18030.

    Only CSV is read: save an Excel workbook as CSV first (.xlsx readers are not installed).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls", ".ods", ".et"):
        raise TableError(
            f"{path}: only CSV files can be read (no Excel reader is installed); "
            "save the sheet as CSV (UTF-8 or GBK) and try again"
        )
    if suffix not in (".csv", ".txt", ".tsv", ""):
        raise TableError(f"{path}: expected a .csv file (UTF-8 or GBK)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TableError(f"{path}: {exc.strerror or exc}") from exc
    text = decode_bytes(raw, path)
    sample = text[:65536]
    delimiter = ","
    if suffix == ".tsv":
        delimiter = "\t"
    else:
        first = sample.split("\n", 1)[0]
        if first.count("\t") > first.count(",") and first.count("\t") > 0:
            delimiter = "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise TableError(f"{path}: the file is empty") from None
    header = [h.strip() for h in header]
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    width = len(header)
    rows = [row + [""] * (width - len(row)) if len(row) < width else row for row in rows]
    return header, rows


def column_index(header: Sequence[str], name: str, path: str | Path = "", what: str = "column") -> int:
    """Index of column `name` (exact, then case-insensitive); TableError listing the columns."""
    if name in header:
        return list(header).index(name)
    folded = [h.casefold() for h in header]
    if name.strip().casefold() in folded:
        return folded.index(name.strip().casefold())
    available = ", ".join(repr(h) for h in header)
    where = f"{path}: " if path else ""
    raise TableError(f"{where}{what} {name!r} not found; available columns: {available}")
