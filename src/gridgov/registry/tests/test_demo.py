"""The registry part of the demo district: valid, consistent identifiers; reset removes it all."""

from __future__ import annotations

import datetime as dt

from gridgov.core.tabular.validators import check_credit_code, check_id_numbers, gender_of
from gridgov.registry import vault
from gridgov.registry.models import CareMembership, Household, Resident, Submission, Unit


def test_demo_registry_is_valid_and_reset_removes_it(db, tmp_path):
    from gridgov.demo.services import delete_demo, generate

    result = generate("small", reset=True, data_dir=tmp_path, history_days=0, log=lambda *a, **k: None)
    assert result.created
    residents = list(Resident.objects.all())
    assert len(residents) > 15_000 and Household.objects.count() == result.counts["households"]
    numbers = [vault.decrypt(r.id_enc, r.pii_key, "id_number") for r in residents]
    assert check_id_numbers(numbers) == [None] * len(numbers)
    assert len(set(numbers)) == len(numbers)
    for r, n in zip(residents[:2000], numbers[:2000], strict=True):
        assert n[6:14] == r.birth_date.strftime("%Y%m%d") and gender_of(n) == r.gender
    areas = {n[:6] for n in numbers}
    assert (
        "440309" in areas
        and len(areas - {"440303", "440304", "440305", "440306", "440307", "440308", "440309"}) > 5
    )
    assert {r.residence_type for r in residents} == {"registered", "floating", "tenant"}
    assert all(check_credit_code(c) is None for c in Unit.objects.values_list("credit_code", flat=True))
    assert Unit.objects.filter(kind="shop").exists() and Unit.objects.filter(kind="company").exists()
    assert CareMembership.objects.filter(group="elderly_alone").exists()
    assert Submission.objects.filter(status="pending").exists()
    assert all(h.head_id for h in Household.objects.all()[:500])
    assert all(r.birth_date <= dt.date.today() for r in residents[:500])
    delete_demo(log=lambda *a, **k: None)
    assert Resident.objects.count() == Household.objects.count() == Unit.objects.count() == 0
