from collections import defaultdict

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, Sum


def fill(apps, schema_editor) -> None:
    """The counts of the rental houses already there, for every area above each house (rental/counts.py)."""
    RentalHouse = apps.get_model("rental", "RentalHouse")
    RentalCount = apps.get_model("rental", "RentalCount")
    Area = apps.get_model("territory", "Area")
    rows = (
        RentalHouse.objects.filter(is_active=True)
        .values("house__building__grid__path", "grade", "category_id")
        .annotate(houses=Count("id"), rooms=Sum("rooms_count"))
        .order_by()
    )
    sums: dict = defaultdict(lambda: [0, 0])
    for r in rows:
        for code in [c for c in r["house__building__grid__path"].split("/") if c]:
            row = sums[(code, r["grade"] or "", r["category_id"])]
            row[0] += r["houses"]
            row[1] += r["rooms"] or 0
    ids = dict(Area.objects.filter(code__in={k[0] for k in sums}).values_list("code", "pk"))
    RentalCount.objects.bulk_create(
        [
            RentalCount(area_id=ids[code], grade=grade, category_id=category, houses=h, rooms=n)
            for (code, grade, category), (h, n) in sorted(sums.items())
            if code in ids
        ],
        batch_size=2000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("rental", "0003_names"),
        ("territory", "0002_grid_engine"),
    ]

    operations = [
        migrations.CreateModel(
            name="RentalCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("grade", models.CharField(blank=True, default="", max_length=12)),
                ("houses", models.IntegerField(default=0)),
                ("rooms", models.IntegerField(default=0)),
                (
                    "area",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="territory.area"
                    ),
                ),
                (
                    "category",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="rental.tenancycategory",
                    ),
                ),
            ],
            options={
                "ordering": ["area_id", "grade", "category_id"],
                "constraints": [
                    models.UniqueConstraint(fields=("area", "grade", "category"), name="rental_count_unique")
                ],
            },
        ),
    ]
