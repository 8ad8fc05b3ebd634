"""The short form of bench/rental_figures.py: the benchmark's own code at 5,000 rooms — the district it
writes in bulk, the rebuild of the counts, the API's grade table per level and the naive GROUP BY over the
rooms give the same numbers (no timing asserted)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from gridgov.rental import counts
from gridgov.rental.models import RentalRoom

BENCH = Path(__file__).resolve().parents[4] / "bench" / "rental_figures.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_rental_figures", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_at_a_small_scale_agrees_with_the_naive_group_by(db):
    bench = _bench()
    built = bench.build(5_000, seed=3, per_grid=3)
    assert built["rooms"] == 5_000 == RentalRoom.objects.count() and built["grids"] == 480
    counts.rebuild()
    result = bench.measure(built, repeat=1)
    assert result["agree"], result
    assert set(result["levels"]) == {"district", "subdistrict", "community", "grid"}
    assert all(level["agree"] for level in result["levels"].values())
