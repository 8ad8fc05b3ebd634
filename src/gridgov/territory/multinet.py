"""多网合一: a department's own grid layer (综治、城管、市场监管 … 网格) imported and laid over the unified
grids — which department grid covers which unified grid and by what share, with the slivers, gaps and
split grids that show where the two layers disagree; exported as Excel.

Import: GeoJSON (a FeatureCollection, a Feature or a bare geometry) or a zipped Shapefile (.shp, .shx,
.dbf, optional .cpg with the text encoding; GBK is tried when UTF-8 fails), in a declared coordinate
system: WGS-84, CGCS2000 (treated as WGS-84: they differ by centimetres), GCJ-02 or BD-09 — converted to
WGS-84 on the way in. Projected coordinates (metres) are refused with a clear message.

Overlay, per unified grid (areas in a local metric plane):
    share_of_grid        intersection ÷ the unified grid's area, for every department grid it touches
    share_of_department  intersection ÷ the department grid's area
    main                 the department grid with the largest share
    covered              union of the intersections ÷ the unified grid's area
A **sliver** is an intersection below `SLIVER_SHARE` of both polygons (edges drawn a little differently),
a **gap** a unified grid less than `GAP_COVERED` covered by the layer, a **split** grid one with at least
two department grids above `SPLIT_SHARE` each.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

import numpy as np
import shapely
from django.db import transaction
from django.utils.translation import gettext as _

from gridgov.accounts.audit import record_audit
from gridgov.accounts.models import AuditEventType, Organisation
from gridgov.core.errors import NotFound, TooLarge, field_error
from gridgov.core.principal import require
from gridgov.core.tabular.export import SafeBook
from gridgov.territory import geo
from gridgov.territory.models import CrsName, DepartmentGrid, DepartmentLayer, Level
from gridgov.territory.partition import LocalPlane
from gridgov.territory.selectors import _under, visible_areas

SLIVER_SHARE = 0.05
SPLIT_SHARE = 0.10
GAP_COVERED = 0.95
MAX_BYTES = 50 * 1024 * 1024
MAX_FEATURES = 100_000


# --- reading files ---------------------------------------------------------------------------------------
@dataclass
class Feature:
    code: str
    name: str
    geometry: shapely.Geometry


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _pick(props: dict, field: str | None, fallbacks: tuple[str, ...]) -> str:
    if field:
        return _text(props.get(field))
    lowered = {str(k).lower(): v for k, v in props.items()}
    for name in fallbacks:
        if name in lowered and _text(lowered[name]):
            return _text(lowered[name])
    return ""


CODE_FIELDS = ("code", "grid_code", "wgbm", "wgdm", "bm", "id", "编码", "网格编码")
NAME_FIELDS = ("name", "grid_name", "wgmc", "mc", "名称", "网格名称")


def _read_geojson(data: bytes) -> list[tuple[dict, dict | None]]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise field_error("file", _("The file is neither GeoJSON nor a zipped Shapefile.")) from None
    if not isinstance(doc, dict):
        raise field_error("file", _("The file is neither GeoJSON nor a zipped Shapefile."))
    if doc.get("type") == "FeatureCollection":
        items = doc.get("features") or []
        return [(f.get("properties") or {}, f.get("geometry")) for f in items if isinstance(f, dict)]
    if doc.get("type") == "Feature":
        return [(doc.get("properties") or {}, doc.get("geometry"))]
    return [({}, doc)]


def _read_shapefile(data: bytes) -> list[tuple[dict, dict | None]]:
    import shapefile  # pyshp

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise field_error("file", _("The file is neither GeoJSON nor a zipped Shapefile.")) from None
    names = {n.lower(): n for n in archive.namelist() if not n.endswith("/")}
    shp = next((n for n in names if n.endswith(".shp")), None)
    if shp is None:
        raise field_error("file", _("The zip holds no .shp file."))
    stem = shp[:-4]
    parts = {}
    for ext in ("shp", "shx", "dbf", "cpg"):
        name = names.get(f"{stem}.{ext}")
        parts[ext] = archive.read(name) if name else None
    if parts["dbf"] is None:
        raise field_error("file", _("The Shapefile's .dbf part is missing."))
    encodings = [parts["cpg"].decode("ascii", "ignore").strip()] if parts["cpg"] else []
    encodings += ["utf-8", "gbk"]
    last_error = None
    for encoding in encodings:
        try:
            reader = shapefile.Reader(
                shp=io.BytesIO(parts["shp"] or b""),
                shx=io.BytesIO(parts["shx"]) if parts["shx"] else None,
                dbf=io.BytesIO(parts["dbf"]),
                encoding=encoding,
            )
            fields = [f[0] for f in reader.fields[1:]]
            return [
                (dict(zip(fields, list(record.record), strict=False)), record.shape.__geo_interface__)
                for record in reader.iterShapeRecords()
            ]
        except Exception as exc:  # pyshp wraps decoding errors in its own exceptions: try the next encoding
            last_error = exc
    if isinstance(last_error, UnicodeDecodeError | LookupError) or "decode" in str(last_error).lower():
        raise field_error(
            "file", _("The Shapefile's text encoding is neither UTF-8 nor GBK.")
        ) from last_error
    raise field_error("file", _("The Shapefile cannot be read.")) from last_error


def read_layer(data: bytes, *, crs: str, code_field: str | None = None, name_field: str | None = None):
    """File bytes → features in WGS-84 (polygonal, valid). ValidationFailed with field errors."""
    if crs not in CrsName.values:
        raise field_error("crs", _("Choose one of the allowed values"))
    if not data:
        raise field_error("file", _("The file is empty."))
    rows = _read_shapefile(data) if data[:2] == b"PK" else _read_geojson(data)
    if not rows:
        raise field_error("file", _("The layer holds no features."))
    if len(rows) > MAX_FEATURES:
        raise field_error("file", _("The layer holds too many features."))
    convert = geo.CRS_WGS84 if crs in (CrsName.WGS84, CrsName.CGCS2000) else crs
    features, seen = [], set()
    for i, (props, geometry) in enumerate(rows, 1):
        try:
            geom = geo.read_geojson(json.dumps(geometry)) if geometry else None
        except geo.GeometryError:
            geom = None
        geom = geo.polygonal_part(shapely.make_valid(geom)) if geom is not None else None
        if geom is None:
            raise field_error("file", _("Feature %(n)s is not a polygon.") % {"n": i})
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise field_error(
                "crs",
                _(
                    "The coordinates are not longitude and latitude; convert the layer to one of the listed systems."
                ),
            )
        if convert != geo.CRS_WGS84:
            geom = shapely.transform(geom, lambda c: np.column_stack(geo.to_wgs84(c[:, 0], c[:, 1], convert)))
        code = _pick(props, code_field, CODE_FIELDS) or str(i)
        if code in seen:
            raise field_error("file", _("The code %(code)s appears twice in the layer.") % {"code": code})
        seen.add(code)
        features.append(Feature(code[:64], _pick(props, name_field, NAME_FIELDS)[:200], geom))
    return features


# --- import ---------------------------------------------------------------------------------------------
def import_layer(
    *,
    actor,
    data: bytes,
    name: str,
    crs: str,
    organisation_code: str | None = None,
    source_name: str = "",
    code_field: str | None = None,
    name_field: str | None = None,
    request=None,
) -> DepartmentLayer:
    """Import a department's grid layer (administrators)."""
    require(actor, "territory.layer.import", request=request)
    if len(data) > MAX_BYTES:
        raise TooLarge(_("The file is too large"))
    if not (name or "").strip():
        raise field_error("name", _("Give the layer a name."))
    organisation = None
    if organisation_code:
        organisation = Organisation.objects.filter(code=organisation_code).first()
        if organisation is None:
            raise field_error(
                "organisation_code", _("Unknown department: %(codes)s") % {"codes": organisation_code}
            )
    features = read_layer(data, crs=crs, code_field=code_field, name_field=name_field)
    with transaction.atomic():
        layer = DepartmentLayer.objects.create(
            name=name.strip()[:100],
            organisation=organisation,
            source_crs=crs,
            source_name=(source_name or "")[:255],
            imported_by=actor,
        )
        DepartmentGrid.objects.bulk_create(
            [
                DepartmentGrid(
                    layer=layer,
                    code=f.code,
                    name=f.name,
                    geometry=geo.to_geojson(f.geometry),
                    **dict(zip(("min_lng", "min_lat", "max_lng", "max_lat"), f.geometry.bounds, strict=True)),
                )
                for f in features
            ],
            batch_size=500,
        )
        record_audit(
            AuditEventType.DATA_CHANGE,
            user=actor,
            request=request,
            object_type="department_layer",
            object_id=layer.pk,
            detail={"action": "import", "name": layer.name, "features": len(features), "crs": crs},
        )
    layer.feature_count = len(features)  # type: ignore[attr-defined]  # read by the response schema
    return layer


# --- reads ------------------------------------------------------------------------------------------------
def layers_for(user):
    require(user, "territory.layer.read")
    return DepartmentLayer.objects.select_related("organisation").order_by("-created_at", "-id")


def layer_for(user, layer_id: int) -> DepartmentLayer:
    require(user, "territory.layer.read")
    layer = DepartmentLayer.objects.select_related("organisation").filter(pk=layer_id).first()
    if layer is None:
        raise NotFound(_("Nothing here, or it is outside your area."))
    return layer


def layer_geojson(user, layer_id: int) -> dict:
    """The department grids of a layer as a FeatureCollection (code, name)."""
    layer = layer_for(user, layer_id)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": json.loads(d.geometry),
                "properties": {"code": d.code, "name": d.name},
            }
            for d in DepartmentGrid.objects.filter(layer=layer).order_by("code", "id")
        ],
    }


def overlay(user, layer_id: int, *, area_code: str | None = None) -> dict:
    """The overlay of a layer with the unified grids the user may see (below `area_code` when given)."""
    layer = layer_for(user, layer_id)
    grids = visible_areas(user).filter(level=Level.GRID, is_active=True).exclude(geometry="")
    if area_code:
        under = _under(area_code)
        grids = grids.filter(under) if under is not None else grids.none()
    grids = list(grids.order_by("path"))  # type: ignore[assignment]
    depts = list(DepartmentGrid.objects.filter(layer=layer).order_by("code", "id"))
    return compute_overlay(
        [(g.code, g.name, geo.parse_geojson(g.geometry)) for g in grids],
        [(d.code, d.name, geo.parse_geojson(d.geometry)) for d in depts],
        layer={"id": layer.pk, "name": layer.name},
    )


def compute_overlay(unified: list[tuple], department: list[tuple], *, layer: dict | None = None) -> dict:
    """Pure: [(code, name, polygon WGS-84)] × [(code, name, polygon)] → the overlay report."""
    if not unified:
        return {"layer": layer, "grids": [], "pairs": [], "issues": [], "summary": _summary([], [])}
    coords = np.vstack([np.asarray(shapely.bounds(g[2])).reshape(2, 2) for g in unified])
    plane = LocalPlane.around(coords[:, 0], coords[:, 1])
    u_geoms = [plane.to_local(g[2]) for g in unified]
    d_geoms = [plane.to_local(d[2]) for d in department]
    u_area = shapely.area(u_geoms)
    d_area = shapely.area(d_geoms) if d_geoms else np.zeros(0)
    tree = shapely.STRtree(d_geoms) if d_geoms else None
    pairs_u, pairs_d = tree.query(u_geoms, predicate="intersects") if tree is not None else ([], [])
    inter = (
        shapely.intersection(
            np.asarray(u_geoms, dtype=object)[pairs_u], np.asarray(d_geoms, dtype=object)[pairs_d]
        )
        if len(pairs_u)
        else []
    )
    inter_area = shapely.area(inter) if len(pairs_u) else np.zeros(0)
    by_grid: dict[int, list[tuple[int, float]]] = {}
    pairs = []
    for u, d, a in zip(pairs_u, pairs_d, inter_area, strict=True):
        if a <= 1e-6:
            continue  # touching edges only
        share_u = float(a / u_area[u]) if u_area[u] > 0 else 0.0
        share_d = float(a / d_area[d]) if d_area[d] > 0 else 0.0
        by_grid.setdefault(int(u), []).append((int(d), a))
        pairs.append(
            {
                "grid_code": unified[u][0],
                "department_code": department[d][0],
                "department_name": department[d][1],
                "area_m2": round(float(a), 1),
                "share_of_grid": round(share_u, 4),
                "share_of_department": round(share_d, 4),
                "sliver": share_u < SLIVER_SHARE and share_d < SLIVER_SHARE,
            }
        )
    rows, issues = [], []
    for u, (code, name, _geom) in enumerate(unified):
        touching = sorted(by_grid.get(u, []), key=lambda t: -t[1])
        if touching:
            covered_geom = shapely.union_all(
                [shapely.intersection(u_geoms[u], d_geoms[d]) for d, _a in touching]
            )
            covered = float(covered_geom.area / u_area[u]) if u_area[u] > 0 else 0.0
        else:
            covered = 0.0
        shares = [(department[d][0], float(a / u_area[u])) for d, a in touching]
        big = [c for c, s in shares if s >= SPLIT_SHARE]
        slivers = [
            c
            for (d, a), (c, s) in zip(touching, shares, strict=True)
            if s < SLIVER_SHARE and a / d_area[d] < SLIVER_SHARE
        ]
        row = {
            "grid_code": code,
            "grid_name": name,
            "area_m2": round(float(u_area[u]), 1),
            "main_department_code": shares[0][0] if shares else None,
            "main_share": round(shares[0][1], 4) if shares else 0.0,
            "covered": round(min(covered, 1.0), 4),
            "departments": len(shares),
            "split": len(big) >= 2,
            "gap": covered < GAP_COVERED,
            "slivers": slivers,
        }
        rows.append(row)
        if row["gap"]:
            issues.append({"grid_code": code, "kind": "gap", "detail": {"covered": row["covered"]}})
        if row["split"]:
            issues.append({"grid_code": code, "kind": "split", "detail": {"departments": big}})
        for c in slivers:
            issues.append({"grid_code": code, "kind": "sliver", "detail": {"department_code": c}})
    return {
        "layer": layer,
        "grids": rows,
        "pairs": pairs,
        "issues": issues,
        "summary": _summary(rows, issues),
    }


def _summary(rows: list[dict], issues: list[dict]) -> dict:
    return {
        "grids": len(rows),
        "fully_in_one": sum(1 for r in rows if r["departments"] == 1 and not r["gap"]),
        "split": sum(1 for r in rows if r["split"]),
        "gaps": sum(1 for r in rows if r["gap"]),
        "slivers": sum(1 for i in issues if i["kind"] == "sliver"),
    }


def overlay_workbook(report: dict) -> bytes:
    """The overlay as an Excel workbook: 网格对应 (one row per grid), 对应明细 (every pair), 问题 (issues)."""
    buffer = io.BytesIO()
    # Codes and names come from the imported file: written as text through the formula-safe writer.
    book = SafeBook(buffer)
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    percent = book.add_format({"num_format": "0.0%"})
    kinds = {"gap": _("Gap"), "split": _("Split"), "sliver": _("Sliver")}

    def sheet(title, headers, rows, percents=()):
        ws = book.add_worksheet(title)
        for c, (label, _key) in enumerate(headers):
            ws.write(0, c, label, bold)
            ws.set_column(c, c, max(12, len(label) * 2))
        for r, row in enumerate(rows, 1):
            for c, (_label, key) in enumerate(headers):
                value = row.get(key)
                if isinstance(value, bool):
                    value = _("Yes") if value else _("No")
                elif key == "kind":
                    value = kinds.get(value, value)
                elif isinstance(value, list | dict):
                    value = json.dumps(value, ensure_ascii=False)
                ws.write(r, c, value, percent if key in percents else None)
        ws.freeze_panes(1, 0)

    sheet(
        _("Grid mapping"),
        [
            (_("Unified grid code"), "grid_code"),
            (_("Unified grid name"), "grid_name"),
            (_("Main department grid"), "main_department_code"),
            (_("Share of the grid"), "main_share"),
            (_("Covered"), "covered"),
            (_("Department grids"), "departments"),
            (_("Split"), "split"),
            (_("Gap"), "gap"),
        ],
        report["grids"],
        percents=("main_share", "covered"),
    )
    sheet(
        _("Pairs"),
        [
            (_("Unified grid code"), "grid_code"),
            (_("Department grid code"), "department_code"),
            (_("Department grid name"), "department_name"),
            (_("Area (m²)"), "area_m2"),
            (_("Share of the grid"), "share_of_grid"),
            (_("Share of the department grid"), "share_of_department"),
            (_("Sliver"), "sliver"),
        ],
        report["pairs"],
        percents=("share_of_grid", "share_of_department"),
    )
    sheet(
        _("Issues"),
        [(_("Unified grid code"), "grid_code"), (_("Issue"), "kind"), (_("Detail"), "detail")],
        report["issues"],
    )
    book.close()
    return buffer.getvalue()
