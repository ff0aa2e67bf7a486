"""A transaction's `reference` is no longer indexed: nothing looks a transaction up by it (the
admin searches it as text, which the index could not serve), and every post paid for one more
index entry."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("ledger", "0013_one_account_rule")]

    operations = [
        migrations.AlterField(
            model_name="transaction",
            name="reference",
            field=models.CharField(blank=True, max_length=128),
        ),
    ]
