import pytest
from huey.contrib.djhuey import HUEY

from gridgov.territory.models import Area, House
from gridgov.territory.tasks import recount_households


@pytest.fixture
def immediate_queue():
    previous = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = previous


def test_recount_task_refreshes_cached_households(territory, immediate_queue):
    grid = Area.objects.filter(level="grid").order_by("code").first()
    house = House.objects.filter(building__grid=grid).first()
    House.objects.filter(pk=house.pk).update(households=house.households + 3)
    before = Area.objects.get(pk=grid.pk).households
    recount_households(grid.code)
    assert Area.objects.get(pk=grid.pk).households == before + 3
    district = Area.objects.get(level="district")
    assert district.households == sum(
        House.objects.filter(building__grid__path__startswith=district.path).values_list(
            "households", flat=True
        )
    )
