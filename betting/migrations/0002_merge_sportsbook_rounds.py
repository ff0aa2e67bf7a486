from django.db import migrations


class Migration(migrations.Migration):
    """The sportsbook's tables and the Up/Down rounds' tables were made side by side."""

    dependencies = [("betting", "0001_initial"), ("betting", "0001_rounds")]
    operations: list[migrations.operations.base.Operation] = []
