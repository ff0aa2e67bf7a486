"""A transaction's `reference` is no longer indexed: nothing looks a transaction up by it (the
admin searches it as text, which the index could not serve), and every post paid for one more
index entry. `ledger_lines` (0009) goes: the one-entry post now sends its lines as VALUES."""

from django.db import migrations, models

LEDGER_LINES = r"""
CREATE FUNCTION ledger_lines(ids bigint[], amounts bigint[], currencies text[])
RETURNS TABLE (account_id bigint, amount bigint, currency text) LANGUAGE plpgsql ROWS 3 AS $$
BEGIN
    RETURN QUERY SELECT * FROM unnest(ids, amounts, currencies);
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0013_one_account_rule")]

    operations = [
        migrations.AlterField(
            model_name="transaction",
            name="reference",
            field=models.CharField(blank=True, max_length=128),
        ),
        migrations.RunSQL("DROP FUNCTION ledger_lines(bigint[], bigint[], text[]);", LEDGER_LINES),
    ]
