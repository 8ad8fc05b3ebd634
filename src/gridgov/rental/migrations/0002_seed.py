from django.db import migrations

from gridgov.rental.seed import seed


class Migration(migrations.Migration):
    dependencies = [("rental", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
