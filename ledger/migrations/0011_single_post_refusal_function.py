"""`ledger_refuse_post(ids, amounts, currencies, moved)`: the report of a refused one-entry post.

The one-statement post (`ledger.journal.post_one`) used to carry the query that explains a
refusal (which account is missing, in another currency, or short of money) inside itself: never
run when the post goes through, yet PostgreSQL set it up on every execution. Called only when
the post is refused, this function reads the accounts and raises `ledger_refuse` (0009) with the
same report: per account of the lines, in id order, [id, kind, currency, wanted currency,
user_id, net delta, whether its balance was moved].
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION ledger_refuse_post(ids bigint[], amounts bigint[], currencies text[], moved bigint[])
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_refuse((
        SELECT json_agg(json_build_array(v.id, a.kind, a.currency, v.wanted, a.user_id, v.delta,
                                         v.id = ANY(moved)) ORDER BY v.id)
        FROM (SELECT l.id, sum(l.amount)::bigint AS delta, min(l.currency) AS wanted
              FROM unnest(ids, amounts, currencies) AS l(id, amount, currency) GROUP BY l.id) v
        LEFT JOIN ledger_account a ON a.id = v.id));
    RETURN false;
END $$;
"""

BACKWARD = "DROP FUNCTION IF EXISTS ledger_refuse_post(bigint[], bigint[], text[], bigint[]);"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0010_balanced_check_at_statement_end")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
