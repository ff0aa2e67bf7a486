"""The same ledger checks in fewer queries: each trigger asks one question in the common case
and only looks for the details when the answer is bad."""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION ledger_check_new_postings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    missing_tx boolean;
    bad_account boolean;
    unbalanced boolean;
BEGIN
    SELECT
        EXISTS (SELECT 1 FROM new_postings n LEFT JOIN ledger_transaction t ON t.id = n.transaction_id
                WHERE t.id IS NULL),
        EXISTS (SELECT 1 FROM new_postings n LEFT JOIN ledger_account a ON a.id = n.account_id
                WHERE a.id IS NULL OR a.currency <> n.currency),
        EXISTS (SELECT 1 FROM new_postings GROUP BY transaction_id, currency HAVING sum(amount) <> 0)
    INTO missing_tx, bad_account, unbalanced;
    IF NOT (missing_tx OR bad_account OR unbalanced) THEN
        RETURN NULL;
    END IF;

    IF missing_tx THEN
        SELECT n.transaction_id INTO bad FROM new_postings n
            LEFT JOIN ledger_transaction t ON t.id = n.transaction_id WHERE t.id IS NULL LIMIT 1;
        RAISE EXCEPTION 'posting for ledger transaction %, which does not exist',
            bad.transaction_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF bad_account THEN
        SELECT n.account_id, n.currency INTO bad FROM new_postings n
            LEFT JOIN ledger_account a ON a.id = n.account_id
            WHERE a.id IS NULL OR a.currency <> n.currency LIMIT 1;
        RAISE EXCEPTION 'posting on account % in %: no such account, or it holds another currency',
            bad.account_id, bad.currency USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT transaction_id, currency, sum(amount) AS total INTO bad FROM new_postings
        GROUP BY transaction_id, currency HAVING sum(amount) <> 0 LIMIT 1;
    RAISE EXCEPTION 'unbalanced ledger transaction %: % % left over',
        bad.transaction_id, bad.total, bad.currency USING ERRCODE = 'check_violation';
END $$;

CREATE OR REPLACE FUNCTION ledger_check_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lines bigint;
    unbalanced text;
BEGIN
    SELECT coalesce(sum(n), 0), string_agg(CASE WHEN total <> 0 THEN currency || ' ' || total END, ', ')
      INTO lines, unbalanced
      FROM (SELECT currency, sum(amount) AS total, count(*) AS n FROM ledger_posting
            WHERE transaction_id = NEW.id GROUP BY currency) s;
    IF lines < 2 THEN
        RAISE EXCEPTION 'ledger transaction % (%) has % posting(s); at least two are required',
            NEW.id, NEW.idempotency_key, lines USING ERRCODE = 'check_violation';
    END IF;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'unbalanced ledger transaction % (%): %', NEW.id, NEW.idempotency_key, unbalanced
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_chain_records")]

    # Going back keeps these definitions: they check exactly what 0003's did.
    operations = [migrations.RunSQL(FORWARD, migrations.RunSQL.noop)]
