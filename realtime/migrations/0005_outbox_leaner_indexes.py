"""Two indexes every outbox event wrote and nothing reads: the `varchar_pattern_ops` copy of the
unique event id (no `LIKE 'prefix%'` query asks for one) and the user's own index, which
`outbox_user_seq` (user, seq) already covers."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("realtime", "0004_cashout"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="outboxevent",
            name="user",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                help_text="Whose event this is; empty for a broadcast.",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunSQL(
            "DROP INDEX IF EXISTS realtime_outboxevent_event_id_ee2ebd3f_like;",
            "CREATE INDEX IF NOT EXISTS realtime_outboxevent_event_id_ee2ebd3f_like "
            "ON realtime_outboxevent (event_id varchar_pattern_ops);",
        ),
    ]
