"""The posting statement check looks each transaction and each account up once, not once per
posting: a settlement chunk's 4,600 postings name 2,000 transactions and, escrow and the house
standing in nearly every one, about 1,100 accounts. Same checks, same messages."""

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
        EXISTS (SELECT 1 FROM (SELECT DISTINCT transaction_id FROM new_postings) n
                LEFT JOIN ledger_transaction t ON t.id = n.transaction_id
                WHERE t.id IS NULL),
        EXISTS (SELECT 1 FROM (SELECT DISTINCT account_id, currency FROM new_postings) n
                LEFT JOIN ledger_account a ON a.id = n.account_id
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
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0007_balanced_check_per_statement")]

    # Going back keeps this definition: it checks exactly what 0005's did.
    operations = [migrations.RunSQL(FORWARD, migrations.RunSQL.noop)]
