from django.db import migrations


class Migration(migrations.Migration):
    """The settlement facts were added beside the Up/Down rounds."""

    dependencies = [("betting", "0002_merge_sportsbook_rounds"), ("betting", "0002_settlement_facts")]
    operations: list[migrations.operations.base.Operation] = []
