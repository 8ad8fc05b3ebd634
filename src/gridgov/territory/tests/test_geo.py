"""Coordinate conversion WGS-84 ⇄ GCJ-02 ⇄ BD-09 and the geometry helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov.territory import geo

# --- an independent scalar formulation (math module, the offset written as one transform(x, y)) ---
_A = 6378245.0
_EE = 0.00669342162296594323


def _transform(x: float, y: float) -> tuple[float, float]:
    xy = x * y
    root = math.sqrt(abs(x))
    base = 20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)
    lat = base + 20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y * math.pi / 3.0)
    lng = base + 20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x * math.pi / 3.0)
    lat += 160.0 * math.sin(y * math.pi / 12.0) + 320.0 * math.sin(y * math.pi / 30.0)
    lng += 150.0 * math.sin(x * math.pi / 12.0) + 300.0 * math.sin(x * math.pi / 30.0)
    lat = lat * 2.0 / 3.0 - 100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * xy + 0.2 * root
    lng = lng * 2.0 / 3.0 + 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * xy + 0.1 * root
    return lat, lng


def ref_wgs_to_gcj(lng: float, lat: float) -> tuple[float, float]:
    if not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271):
        return lng, lat
    dlat, dlng = _transform(lng - 105.0, lat - 35.0)
    rad = math.radians(lat)
    magic = 1 - _EE * math.sin(rad) ** 2
    dlat = dlat * 180.0 / ((_A * (1 - _EE)) / (magic * math.sqrt(magic)) * math.pi)
    dlng = dlng * 180.0 / (_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return lng + dlng, lat + dlat


def ref_gcj_to_bd(lng: float, lat: float) -> tuple[float, float]:
    x_pi = math.pi * 3000.0 / 180.0
    z = math.hypot(lng, lat) + 0.00002 * math.sin(lat * x_pi)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * x_pi)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def shenzhen_grid(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    lng, lat = np.meshgrid(np.linspace(113.75, 114.65, n), np.linspace(22.40, 22.87, n))
    return lng.ravel(), lat.ravel()


# --- published reference pairs --------------------------------------------------------------------
# googollee/eviltransform test vectors (WGS-84 → GCJ-02): Shanghai, Shenzhen, Beijing.
EVILTRANSFORM = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
]
# wandergis/coordtransform README (Tiananmen, 116.404, 39.915).
COORDTRANSFORM_WGS_TO_GCJ = ((116.404, 39.915), (116.41024449916938, 39.91640428150164))
COORDTRANSFORM_GCJ_TO_BD = ((116.404, 39.915), (116.41036949371029, 39.92133699351021))
# Their inverses are one-step approximations (centimetres off here, metres elsewhere).
COORDTRANSFORM_GCJ_TO_WGS_APPROX = ((116.404, 39.915), (116.39775550083061, 39.91359571849836))
COORDTRANSFORM_BD_TO_GCJ_APPROX = ((116.404, 39.915), (116.39762729119315, 39.90865673957631))


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM)
def test_wgs_to_gcj_matches_published_vectors(wgs, gcj):
    got = geo.wgs84_to_gcj02(*wgs)
    assert got == pytest.approx(gcj, abs=1e-12)
    back = geo.gcj02_to_wgs84(*gcj)
    assert geo.haversine_m(*back, *wgs) < 1e-3


def test_coordtransform_reference_points():
    (src, want) = COORDTRANSFORM_WGS_TO_GCJ
    assert geo.wgs84_to_gcj02(*src) == pytest.approx(want, abs=1e-12)
    (src, want) = COORDTRANSFORM_GCJ_TO_BD
    assert geo.gcj02_to_bd09(*src) == pytest.approx(want, abs=1e-12)


def test_exact_inverse_beats_the_one_step_inverse():
    (gcj, approx) = COORDTRANSFORM_GCJ_TO_WGS_APPROX
    exact = geo.gcj02_to_wgs84(*gcj)
    assert geo.haversine_m(*exact, *approx) < 5  # the same point, give or take the approximation
    assert geo.haversine_m(*geo.wgs84_to_gcj02(*exact), *gcj) < 1e-4  # ours maps back exactly
    assert geo.haversine_m(*geo.wgs84_to_gcj02(*approx), *gcj) > 0.01  # the one-step one misses by cm
    (bd, approx) = COORDTRANSFORM_BD_TO_GCJ_APPROX
    exact = geo.bd09_to_gcj02(*bd)
    assert geo.haversine_m(*exact, *approx) < 5
    assert geo.haversine_m(*geo.gcj02_to_bd09(*exact), *bd) < 1e-4


def test_shenzhen_reference_point_against_independent_formulation():
    lng, lat = 114.0579, 22.5431
    gcj = geo.wgs84_to_gcj02(lng, lat)
    assert gcj == pytest.approx(ref_wgs_to_gcj(lng, lat), abs=1e-12)
    bd = geo.wgs84_to_bd09(lng, lat)
    assert bd == pytest.approx(ref_gcj_to_bd(*ref_wgs_to_gcj(lng, lat)), abs=1e-12)
    # The offsets in Shenzhen: GCJ-02 ≈ 500–600 m east/south of WGS-84, BD-09 about 1 km further.
    assert 300 < geo.haversine_m(lng, lat, *gcj) < 800
    assert 800 < geo.haversine_m(lng, lat, *bd) < 1600


def test_vectorised_equals_scalar_reference_across_shenzhen():
    lng, lat = shenzhen_grid(40)
    gx, gy = geo.wgs84_to_gcj02(lng, lat)
    ref = np.array([ref_wgs_to_gcj(x, y) for x, y in zip(lng, lat, strict=True)])
    assert np.abs(gx - ref[:, 0]).max() < 1e-12
    assert np.abs(gy - ref[:, 1]).max() < 1e-12
    bx, by = geo.gcj02_to_bd09(gx, gy)
    ref_bd = np.array([ref_gcj_to_bd(x, y) for x, y in ref])
    assert np.abs(bx - ref_bd[:, 0]).max() < 1e-12
    assert np.abs(by - ref_bd[:, 1]).max() < 1e-12


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [
        (geo.wgs84_to_gcj02, geo.gcj02_to_wgs84),
        (geo.wgs84_to_bd09, geo.bd09_to_wgs84),
        (geo.gcj02_to_bd09, geo.bd09_to_gcj02),
    ],
    ids=["wgs-gcj-wgs", "wgs-bd-wgs", "gcj-bd-gcj"],
)
def test_round_trips_across_shenzhen_are_under_a_metre(forward, inverse):
    lng, lat = shenzhen_grid(120)
    back = inverse(*forward(lng, lat))
    err = geo.haversine_m(lng, lat, *back)
    assert err.max() < 1.0
    assert err.max() < 1e-3  # in fact well under a millimetre


def test_to_and_from_wgs84_dispatch_by_crs():
    lng, lat = 114.0579, 22.5431
    assert geo.to_wgs84(lng, lat, "wgs84") == (lng, lat)
    assert geo.from_wgs84(lng, lat, "gcj02") == geo.wgs84_to_gcj02(lng, lat)
    assert geo.from_wgs84(lng, lat, "bd09") == geo.wgs84_to_bd09(lng, lat)
    for crs in geo.CRS_CHOICES:
        there = geo.from_wgs84(lng, lat, crs)
        assert geo.haversine_m(*geo.to_wgs84(*there, crs), lng, lat) < 1e-3
    with pytest.raises(ValueError):
        geo.to_wgs84(lng, lat, "epsg:4490")


def test_scalars_in_scalars_out_and_arrays_keep_shape():
    x, y = geo.to_wgs84(114.0, 22.6, "gcj02")
    assert isinstance(x, float) and isinstance(y, float)
    arr = np.full((3, 4), 114.0), np.full((3, 4), 22.6)
    gx, gy = geo.to_wgs84(*arr, "bd09")
    assert gx.shape == (3, 4) and gy.shape == (3, 4)


def test_no_offset_outside_china():
    for lng, lat in [(2.3522, 48.8566), (-74.0, 40.7), (139.69, 35.69)]:
        assert geo.wgs84_to_gcj02(lng, lat) == (lng, lat)
        assert geo.gcj02_to_wgs84(lng, lat) == (lng, lat)
        assert geo.haversine_m(*geo.bd09_to_wgs84(*geo.wgs84_to_bd09(lng, lat)), lng, lat) < 1e-3


def test_nan_input_stays_nan_and_terminates():
    x, y = geo.gcj02_to_wgs84(np.array([np.nan, 114.0]), np.array([22.6, np.nan]))
    assert np.isnan(x[0]) and np.isnan(y[1])


coords = st.tuples(
    st.floats(min_value=73.0, max_value=135.0, allow_nan=False),
    st.floats(min_value=3.0, max_value=53.0, allow_nan=False),
)


@settings(max_examples=300, deadline=None)
@given(coords)
def test_round_trip_property(point):
    lng, lat = point
    for forward, inverse in (
        (geo.wgs84_to_gcj02, geo.gcj02_to_wgs84),
        (geo.wgs84_to_bd09, geo.bd09_to_wgs84),
        (geo.gcj02_to_bd09, geo.bd09_to_gcj02),
    ):
        back = inverse(*forward(lng, lat))
        assert geo.haversine_m(lng, lat, *back) < 0.01


@settings(max_examples=100, deadline=None)
@given(st.lists(coords, min_size=1, max_size=50))
def test_vectorised_equals_elementwise_property(points):
    lng = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    bx, by = geo.bd09_to_wgs84(lng, lat)
    for i, (x, y) in enumerate(points):
        sx, sy = geo.bd09_to_wgs84(x, y)
        assert abs(sx - bx[i]) < 1e-9 and abs(sy - by[i]) < 1e-9


# --- geometry helpers -----------------------------------------------------------------------------
def test_parse_geojson_and_bbox():
    text = '{"type": "Polygon", "coordinates": [[[114.0, 22.6], [114.01, 22.6], [114.01, 22.61], [114.0, 22.6]]]}'
    geom = geo.parse_geojson(text)
    assert geom.geom_type == "Polygon"
    assert geo.parse_geojson(text) is geom  # cached
    assert geo.bbox_of(geom) == (114.0, 22.6, 114.01, 22.61)
    feature = '{"type": "Feature", "properties": {}, "geometry": ' + text + "}"
    assert geo.parse_geojson(feature).equals(geom)


@pytest.mark.parametrize(
    "bad", ["", "  ", "not json", "[1, 2]", '{"type": "Polygon"}', '{"coordinates": []}']
)
def test_parse_geojson_rejects_garbage(bad):
    with pytest.raises(geo.GeometryError):
        geo.parse_geojson(bad)
