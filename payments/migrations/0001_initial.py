from django.db import migrations


class Migration(migrations.Migration):
    """The payments app's starting point; each rail's tables follow in their own migrations."""

    initial = True
    dependencies: list[tuple[str, str]] = []
    operations: list[migrations.operations.base.Operation] = []
