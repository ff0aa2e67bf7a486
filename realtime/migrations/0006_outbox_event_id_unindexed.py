"""The event id loses its unique index: every event wrote an entry there and no query reads it.
Ids are 128 random bits, so they stay unique without it; clients drop duplicates by id and
resume by `seq`."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("realtime", "0005_outbox_leaner_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="outboxevent",
            name="event_id",
            field=models.CharField(max_length=40),
        ),
    ]
