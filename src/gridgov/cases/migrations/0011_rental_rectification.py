from django.db import migrations


def seed_system_subcategories(apps, schema_editor):
    from gridgov.cases.seed import seed_system_subcategories as seed

    seed(apps.get_model("cases", "Category"))


class Migration(migrations.Migration):
    """The subcategory G0503 出租屋整治 (rental house rectification), opened by the rental app."""

    dependencies = [
        ("cases", "0010_timeline_on_behalf_of"),
    ]

    operations = [
        migrations.RunPython(seed_system_subcategories, migrations.RunPython.noop),
    ]
