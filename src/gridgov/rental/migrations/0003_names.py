from django.db import migrations, models

from gridgov.rental.seed import seed_names


class Migration(migrations.Migration):
    dependencies = [
        ("rental", "0002_seed"),
    ]

    operations = [
        migrations.AddField(
            model_name="checklistitem",
            name="name_en",
            field=models.CharField(blank=True, default="", max_length=160, verbose_name="name in English"),
        ),
        migrations.AddField(
            model_name="tenancycategory",
            name="name_en",
            field=models.CharField(blank=True, default="", max_length=80, verbose_name="name in English"),
        ),
        migrations.RunPython(seed_names, migrations.RunPython.noop),
    ]
