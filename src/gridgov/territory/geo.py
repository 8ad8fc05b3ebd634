"""Coordinates and geometry helpers.

Coordinate systems in use in China:

- ``wgs84``: GPS, what GridGov stores.
- ``gcj02``: the national "offset" system (Amap/高德, Tencent/腾讯, Apple Maps in China).
- ``bd09``: Baidu's system, a further offset of GCJ-02.

The forward formulas (WGS-84 → GCJ-02 on the Krasovsky ellipsoid, GCJ-02 → BD-09) are the public
ones. The inverse directions have no closed form; they are solved by fixed-point iteration until the
forward image of the answer is within 1e-10 degrees of the input (a few iterations), so a round trip
is exact to well under a millimetre, not the metres of the usual one-step inverse.

Every conversion accepts scalars or numpy arrays and returns the same shape. Outside China's
bounding box the GCJ-02 offset is zero (the BD-09 offset is applied everywhere, as Baidu does).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

CRS_WGS84 = "wgs84"
CRS_GCJ02 = "gcj02"
CRS_BD09 = "bd09"
CRS_CHOICES = (CRS_WGS84, CRS_GCJ02, CRS_BD09)

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

_TOLERANCE = 1e-10  # degrees (≈ 0.01 mm)
_MAX_ITERATIONS = 10

# The usual bounding box outside which GCJ-02 equals WGS-84.
_CHINA_MIN_LNG, _CHINA_MAX_LNG = 72.004, 137.8347
_CHINA_MIN_LAT, _CHINA_MAX_LAT = 0.8293, 55.8271


def _as_arrays(lng: Any, lat: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    scalar = np.ndim(lng) == 0 and np.ndim(lat) == 0
    x, y = np.broadcast_arrays(np.asarray(lng, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return x, y, scalar


def _result(x: np.ndarray, y: np.ndarray, scalar: bool):
    if scalar:
        return float(x), float(y)
    return x, y


def out_of_china(lng: Any, lat: Any) -> np.ndarray:
    """True where the point lies outside the box in which the GCJ-02 offset applies."""
    lng = np.asarray(lng, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    return (lng < _CHINA_MIN_LNG) | (lng > _CHINA_MAX_LNG) | (lat < _CHINA_MIN_LAT) | (lat > _CHINA_MAX_LAT)


def _gcj_offset(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (dlng, dlat) in degrees at a WGS-84 point; zero outside China."""
    x = lng - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlng += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlng += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0

    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlng = (dlng * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    outside = out_of_china(lng, lat)
    return np.where(outside, 0.0, dlng), np.where(outside, 0.0, dlat)


def _wgs_to_gcj(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlng, dlat = _gcj_offset(lng, lat)
    return lng + dlng, lat + dlat


def _gcj_to_bd(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.sqrt(lng * lng + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lng) + 0.000003 * np.cos(lng * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_to_gcj_one_step(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lng - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(forward, lng: np.ndarray, lat: np.ndarray, start: tuple[np.ndarray, np.ndarray]):
    """Solve forward(x, y) = (lng, lat) by fixed-point iteration from a first guess.

    The offsets are smooth and tiny (their derivatives are ~1e-4), so each step gains about four
    digits: two or three steps reach the tolerance; the cap only guards against non-finite input."""
    x, y = (np.array(v, dtype=np.float64, copy=True) for v in start)
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(x, y)
        ex = lng - fx
        ey = lat - fy
        x += ex
        y += ey
        err = np.maximum(np.abs(ex), np.abs(ey))
        if not np.any(err > _TOLERANCE):  # also stops on NaN input
            break
    return x, y


def _gcj_to_wgs(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlng, dlat = _gcj_offset(lng, lat)
    return _invert(_wgs_to_gcj, lng, lat, (lng - dlng, lat - dlat))


def _bd_to_gcj(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _invert(_gcj_to_bd, lng, lat, _bd_to_gcj_one_step(lng, lat))


# --- public conversions (scalars or arrays) -------------------------------------------------------
def wgs84_to_gcj02(lng, lat):
    x, y, scalar = _as_arrays(lng, lat)
    return _result(*_wgs_to_gcj(x, y), scalar)


def gcj02_to_wgs84(lng, lat):
    x, y, scalar = _as_arrays(lng, lat)
    return _result(*_gcj_to_wgs(x, y), scalar)


def gcj02_to_bd09(lng, lat):
    x, y, scalar = _as_arrays(lng, lat)
    return _result(*_gcj_to_bd(x, y), scalar)


def bd09_to_gcj02(lng, lat):
    x, y, scalar = _as_arrays(lng, lat)
    return _result(*_bd_to_gcj(x, y), scalar)


def wgs84_to_bd09(lng, lat):
    x, y, scalar = _as_arrays(lng, lat)
    return _result(*_gcj_to_bd(*_wgs_to_gcj(x, y)), scalar)


def bd09_to_wgs84(lng, lat):
    x, y, scalar = _as_arrays(lng, lat)
    return _result(*_gcj_to_wgs(*_bd_to_gcj(x, y)), scalar)


def _check_crs(crs: str) -> str:
    if crs not in CRS_CHOICES:
        raise ValueError(f"unknown coordinate system {crs!r}; expected one of {', '.join(CRS_CHOICES)}")
    return crs


def to_wgs84(lng, lat, crs: str = CRS_WGS84):
    """Convert a point (or arrays of points) given in `crs` to WGS-84."""
    crs = _check_crs(crs)
    if crs == CRS_GCJ02:
        return gcj02_to_wgs84(lng, lat)
    if crs == CRS_BD09:
        return bd09_to_wgs84(lng, lat)
    x, y, scalar = _as_arrays(lng, lat)
    return _result(x.copy(), y.copy(), scalar)


def from_wgs84(lng, lat, crs: str = CRS_WGS84):
    """Convert a WGS-84 point (or arrays of points) to `crs`."""
    crs = _check_crs(crs)
    if crs == CRS_GCJ02:
        return wgs84_to_gcj02(lng, lat)
    if crs == CRS_BD09:
        return wgs84_to_bd09(lng, lat)
    x, y, scalar = _as_arrays(lng, lat)
    return _result(x.copy(), y.copy(), scalar)


EARTH_RADIUS_M = 6371008.8


def haversine_m(lng1, lat1, lng2, lat2):
    """Great-circle distance in metres (scalars or arrays)."""
    lng1, lat1, lng2, lat2 = (np.radians(np.asarray(v, dtype=np.float64)) for v in (lng1, lat1, lng2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lng2 - lng1) / 2) ** 2
    d = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return float(d) if np.ndim(d) == 0 else d


# --- geometry ---------------------------------------------------------------------------------
POLYGONAL_TYPES = ("Polygon", "MultiPolygon")


class GeometryError(ValueError):
    """GeoJSON text that is not a usable geometry."""


def read_geojson(text: str) -> BaseGeometry:
    """GeoJSON geometry text → a new shapely geometry. Accepts a bare geometry or a Feature.

    Raises GeometryError on anything unreadable."""
    if not text or not text.strip():
        raise GeometryError("empty geometry")
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise GeometryError("not valid JSON") from exc
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = data.get("geometry")
        text = json.dumps(data)
    if not isinstance(data, dict) or "type" not in data:
        raise GeometryError("not a GeoJSON geometry")
    try:
        geom = shapely.from_geojson(text)
    except Exception as exc:  # GEOS raises its own error types
        raise GeometryError(str(exc)) from exc
    if geom is None:
        raise GeometryError("not a GeoJSON geometry")
    return geom


@lru_cache(maxsize=8192)
def parse_geojson(text: str) -> BaseGeometry:
    """`read_geojson`, cached: the geometry is shared, so never prepare or otherwise change it."""
    return read_geojson(text)


def to_geojson(geom: BaseGeometry) -> str:
    """Shapely geometry → compact GeoJSON text."""
    return shapely.to_geojson(geom)


def bbox_of(geom: BaseGeometry) -> tuple[float, float, float, float] | None:
    """(min_lng, min_lat, max_lng, max_lat) of a geometry, None when empty."""
    if geom is None or geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    return float(minx), float(miny), float(maxx), float(maxy)


def polygonal_part(geom: BaseGeometry) -> BaseGeometry | None:
    """The Polygon/MultiPolygon part of a geometry (e.g. after make_valid), None if it has none."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in POLYGONAL_TYPES:
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in POLYGONAL_TYPES]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return merged if merged.geom_type in POLYGONAL_TYPES else None
