"""Indexes of their own on a leg's slip and selection, a liability's selection and a day's stake's
user repeat the unique or composite indexes that lead with the same column; every leg placed
wrote two of them for nothing."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("betting", "0004_slip_user_index_redundant"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="betleg",
            name="selection",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="legs", to="betting.selection"
            ),
        ),
        migrations.AlterField(
            model_name="betleg",
            name="slip",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="legs", to="betting.betslip"
            ),
        ),
        migrations.AlterField(
            model_name="dailystake",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="selectionliability",
            name="selection",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="liabilities",
                to="betting.selection",
            ),
        ),
    ]
