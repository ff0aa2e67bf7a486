"""A transaction is reversed at most once: unique over the reversals only.

`reverses` was a one-to-one field, whose unique index took an entry (a NULL) for every
transaction ever posted, though only reversals point anywhere. A unique index WHERE reverses_id
IS NOT NULL enforces the same rule, serves `reverses_id = <id>` lookups, and costs an ordinary
post nothing. The foreign key itself is left as it is (Django would drop and re-add it, checking
every row again).
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
CREATE UNIQUE INDEX transaction_reversed_once ON ledger_transaction (reverses_id) WHERE reverses_id IS NOT NULL;
ALTER TABLE ledger_transaction DROP CONSTRAINT ledger_transaction_reverses_id_key;
"""

BACKWARD = """
ALTER TABLE ledger_transaction ADD CONSTRAINT ledger_transaction_reverses_id_key UNIQUE (reverses_id);
DROP INDEX transaction_reversed_once;
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0011_single_post_refusal_function")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, BACKWARD)],
            state_operations=[
                migrations.AlterField(
                    model_name="transaction",
                    name="reverses",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reversed_by",
                        to="ledger.transaction",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="transaction",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("reverses__isnull", False)),
                        fields=("reverses",),
                        name="transaction_reversed_once",
                    ),
                ),
            ],
        )
    ]
