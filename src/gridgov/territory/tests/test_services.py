"""Territory writes: creating and changing areas, codes, geometry, the grid revision, household counts."""

from __future__ import annotations

import pytest

from gridgov.core.errors import Forbidden, NotFound, ValidationFailed
from gridgov.core.models import Revision
from gridgov.territory import codes, services
from gridgov.territory.models import Area, Building, House
from gridgov.territory.tests.conftest import polygon_json

pytestmark = pytest.mark.django_db


def revision() -> int:
    return Revision.current(services.GRID_REVISION)


def fields_of(exc: ValidationFailed) -> set[str]:
    return {e["field"] for e in exc.errors}


def test_create_a_whole_branch(territory, users):
    admin = users.admin
    sub = services.create_area(
        actor=admin, level="subdistrict", code="440309003", name="龙华街道", parent_code="440309"
    )
    comm = services.create_area(
        actor=admin, level="community", code="440309003001", name="清湖社区", parent_code=sub.code
    )
    block = services.create_area(
        actor=admin, level="block", code="44030900300101", name="清湖第1街区", parent_code=comm.code
    )
    before = revision()
    grid = services.create_area(
        actor=admin,
        level="grid",
        code="440309003001001",
        name="清湖第1网格",
        parent_code=block.code,
        geometry=polygon_json(114.05, 22.60, 114.06, 22.61),
        external_code="QH-01",
    )
    assert revision() == before + 1
    assert grid.path == "440309/440309003/440309003001/44030900300101/440309003001001/"
    assert grid.bbox == (114.05, 22.60, 114.06, 22.61)
    assert grid.depth == 4 and grid.external_code == "QH-01"


def test_a_new_district_has_no_parent(db, django_user_model):
    from gridgov.accounts.models import Membership

    admin = django_user_model.objects.create(username="root")
    Membership.objects.create(user=admin, role="admin")
    d = services.create_area(actor=admin, level="district", code="440310", name="坪山区")
    assert d.path == "440310/" and d.parent is None
    with pytest.raises(ValidationFailed) as exc:
        services.create_area(actor=admin, level="district", code="440311", name="x", parent_code="440310")
    assert fields_of(exc.value) == {"parent_code"}


def test_non_admins_may_not_write(territory, users):
    for who in (users.staff_a, users.grid_worker, users.department, users.resident):
        with pytest.raises(Forbidden):
            services.create_area(
                actor=who, level="block", code="44030900200102", name="x", parent_code="440309002001"
            )
        with pytest.raises(Forbidden):
            services.update_area(actor=who, area_code="440309002001", name="x")


@pytest.mark.parametrize(
    ("level", "code", "parent", "field"),
    [
        ("block", "44030900200102", "440309002", "parent_code"),  # a block goes under a community
        ("community", "440309002003", "44030900200101", "parent_code"),
        ("grid", "440309002001009", None, "parent_code"),
        ("grid", "440309002001009", "missing", "parent_code"),
        ("block", "4403090020011", "440309002001", "code"),  # 13 digits
        ("block", "44030900200202", "440309002001", "code"),  # another community's prefix
        ("block", "44030900200100", "440309002001", "code"),  # sequence 00
        ("grid", "44030900200101001", "44030900200101", "code"),  # block-prefixed 17 digits
        ("grid", "440309002001001", "44030900200101", "code"),  # taken
        ("grid", "44030900200100A", "44030900200101", "code"),
        ("subdistrict", "440310001", "440309", "code"),
    ],
)
def test_level_and_code_rules(territory, users, level, code, parent, field):
    with pytest.raises(ValidationFailed) as exc:
        services.create_area(actor=users.admin, level=level, code=code, name="新区域", parent_code=parent)
    assert field in fields_of(exc.value)


def test_all_errors_are_reported_together(territory, users):
    with pytest.raises(ValidationFailed) as exc:
        services.create_area(
            actor=users.admin,
            level="grid",
            code="1",
            name=" ",
            parent_code="44030900200101",
            geometry={"type": "LineString", "coordinates": [[114, 22.6], [114.1, 22.7]]},
        )
    assert fields_of(exc.value) == {"code", "name", "geometry"}


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},  # bow-tie
        {"type": "Point", "coordinates": [114.0, 22.6]},
        {"type": "Polygon", "coordinates": [[[200, 0], [201, 0], [201, 1], [200, 0]]]},
        {"type": "Polygon", "coordinates": [[[114, 22.6], [114.1, 22.6], [114.2, 22.6], [114, 22.6]]]},
        {"type": "Polygon"},
        "not json",
    ],
)
def test_geometry_must_be_a_valid_polygon(territory, users, geometry):
    with pytest.raises(ValidationFailed) as exc:
        services.update_area(actor=users.admin, area_code="440309002001001", geometry=geometry)
    assert fields_of(exc.value) == {"geometry"}


def test_multipolygon_and_feature_text_are_accepted(territory, users):
    multi = {
        "type": "MultiPolygon",
        "coordinates": [
            [[[114.0, 22.6], [114.005, 22.6], [114.005, 22.605], [114.0, 22.6]]],
            [[[114.006, 22.6], [114.01, 22.6], [114.01, 22.61], [114.006, 22.6]]],
        ],
    }
    area = services.update_area(actor=users.admin, area_code="440309002001001", geometry=multi)
    assert area.bbox == (114.0, 22.6, 114.01, 22.61)


def test_grid_revision_moves_only_when_the_locator_cares(territory, users):
    admin = users.admin
    start = revision()
    services.update_area(actor=admin, area_code="440309002001001", name="改名网格")
    services.update_area(actor=admin, area_code="440309002001001", external_code="X1")
    assert revision() == start
    services.update_area(
        actor=admin, area_code="440309002001", geometry=polygon_json(114.0, 22.6, 114.03, 22.62)
    )
    assert revision() == start  # a community's outline is not used by the locator
    same = Area.objects.get(code="440309002001001").geometry
    services.update_area(actor=admin, area_code="440309002001001", geometry=same)
    assert revision() == start  # unchanged geometry
    services.update_area(
        actor=admin, area_code="440309002001001", geometry=polygon_json(114.0, 22.6, 114.011, 22.61)
    )
    assert revision() == start + 1
    services.update_area(actor=admin, area_code="440309002001001", is_active=False)
    assert revision() == start + 2
    services.update_area(actor=admin, area_code="440309002001001", geometry=None)
    grid = Area.objects.get(code="440309002001001")
    assert grid.geometry == "" and grid.bbox is None
    with pytest.raises(NotFound):
        services.update_area(actor=admin, area_code="000", name="x")


def test_recount_households_bottom_up(territory):
    t = territory
    # Fixture: 4 houses per building (2 + 1 + 2 + 1 households), 2 buildings per grid.
    assert Building.objects.get(code=next(iter(t.buildings))).households == 6
    assert t.grid_a1.households == 12
    assert t.block_a.households == 36 and t.comm_a.households == 36
    assert t.comm_b.households == 24
    assert t.sub.households == 60 and t.district.households == 60

    building = Building.objects.filter(grid=t.grid_b1).first()
    House.objects.create(building=building, unit="2", floor=3, room="301", households=5)
    services.recount_households(t.grid_b1)
    assert Building.objects.get(pk=building.pk).households == 11
    expected = {
        "440309002002001": 17,
        "44030900200201": 29,
        "440309002002": 29,
        "440309002": 65,
        "440309": 65,
    }
    got = dict(Area.objects.filter(code__in=expected).values_list("code", "households"))
    assert got == expected
    assert Area.objects.get(code="440309002001").households == 36  # untouched branch

    Area.objects.update(households=0)
    Building.objects.update(households=0)
    services.recount_households()
    assert Area.objects.get(code="440309").households == 65
    assert Area.objects.get(code="440309002001003").households == 12


def test_recount_uses_a_fixed_number_of_queries(territory, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        services.recount_households()
    with django_assert_max_num_queries(12):
        services.recount_households(territory.grid_a1)


def test_code_levels():
    assert codes.level_of_code("440309") == "district"
    assert codes.level_of_code("440309002001") == "community"
    assert codes.level_of_code("44030900200101") == "block"
    assert codes.level_of_code("440309002001001") == "grid"
    assert codes.level_of_code("44030900200A") is None
    assert codes.level_of_code("4403") is None


def test_control_characters_are_refused(territory, users):
    with pytest.raises(ValidationFailed) as exc:
        services.create_area(
            actor=users.admin,
            level="block",
            code="44030900200102",
            name="a\x00",
            parent_code="440309002001\x00",
        )
    assert fields_of(exc.value) == {"name", "parent_code"}
    with pytest.raises(ValidationFailed) as exc:
        services.update_area(actor=users.admin, area_code="440309002001", name="x\ny", external_code="\x00")
    assert fields_of(exc.value) == {"name", "external_code"}
    with pytest.raises(NotFound):
        services.update_area(actor=users.admin, area_code="4403\x00", name="x")


def test_writes_and_refusals_are_audited(territory, users):
    from gridgov.accounts.models import AuditEvent, AuditEventType

    with pytest.raises(Forbidden):
        services.update_area(actor=users.staff_a, area_code="440309002001", name="x")
    denied = AuditEvent.objects.get(event_type=AuditEventType.PERMISSION_DENIED)
    assert (denied.username, denied.success, denied.object_id) == ("staff-a", False, "440309002001")
    services.update_area(actor=users.admin, area_code="440309002001", name="新名字", external_code="Z9")
    change = AuditEvent.objects.get(event_type=AuditEventType.DATA_CHANGE)
    assert change.username == "admin" and change.object_type == "area" and change.object_id == "440309002001"
    assert change.detail == {"action": "update", "fields": ["name", "external_code"]}
    services.update_area(actor=users.admin, area_code="440309002001", name="新名字")  # no change, no record
    assert AuditEvent.objects.filter(event_type=AuditEventType.DATA_CHANGE).count() == 1
