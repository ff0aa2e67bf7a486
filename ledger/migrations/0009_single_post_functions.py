"""Two functions for the statement that posts one transaction (`ledger.journal.post_one`).

`ledger_refuse(report)` is raised by that statement when a wallet would go below zero (or an
account is wrong), so the statement fails as a whole and nothing it did stays, whether it ran
inside a caller's transaction or on its own in autocommit.

`ledger_lines(ids, amounts, currencies)` reads the lines' arrays. Read by `unnest` directly, the
planner counts an array parameter's elements only when it plans for the values at hand, and
assumes ten otherwise: the plan for any values then looks dearer than one made for these, and
PostgreSQL plans the statement afresh on every execution, which costs more than running it.
Behind a function that says it returns a few rows (and is not inlined), both estimates agree
and the statement keeps one plan per connection.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION ledger_refuse(report json) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger post refused' USING ERRCODE = 'TL001', DETAIL = report::text;
END $$;

CREATE FUNCTION ledger_lines(ids bigint[], amounts bigint[], currencies text[])
RETURNS TABLE (account_id bigint, amount bigint, currency text) LANGUAGE plpgsql ROWS 3 AS $$
BEGIN
    RETURN QUERY SELECT * FROM unnest(ids, amounts, currencies);
END $$;
"""

BACKWARD = """
DROP FUNCTION IF EXISTS ledger_lines(bigint[], bigint[], text[]);
DROP FUNCTION IF EXISTS ledger_refuse(json);
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_posting_checks_per_key")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
