from django.db import migrations


def seed_categories(apps, schema_editor):
    from gridgov.cases.seed import seed

    seed(apps.get_model("cases", "Category"), apps.get_model("cases", "WhistleItem"))


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed_categories, migrations.RunPython.noop),
    ]
