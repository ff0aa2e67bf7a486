"""A slip's own index on `user_id` repeats `slip_user_status` and `slip_user_client_key_unique`,
which both lead with the user; settling a slip rewrote it for nothing."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("betting", "0003_merge_rounds_settlement_facts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="betslip",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="bet_slips",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
