from django.db import migrations, models


class Migration(migrations.Migration):
    """Only successes are stored now; a request in flight is held by an advisory lock instead."""

    dependencies = [("core", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "DELETE FROM core_idempotencyrecord WHERE status <> 'completed' OR response_status IS NULL",
            migrations.RunSQL.noop,
        ),
        migrations.RemoveField(model_name="idempotencyrecord", name="status"),
        migrations.RemoveField(model_name="idempotencyrecord", name="completed_at"),
        migrations.AlterField(
            model_name="idempotencyrecord", name="response_status", field=models.PositiveSmallIntegerField()
        ),
    ]
