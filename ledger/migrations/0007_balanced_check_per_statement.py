"""The commit-time check that every new transaction has at least two postings summing to zero per
currency, run once per INSERT statement instead of once per transaction row.

PostgreSQL's deferred (constraint) triggers are row-level only: checked per row, a settlement
chunk of 2,000 transactions ran 2,000 trigger calls at its commit, each with its own query. Now a
statement-level trigger with a transition table notes the ids each INSERT on ledger_transaction
wrote in one row of `ledger_unchecked_batch` (UNLOGGED: its rows never outlive their transaction),
and the deferred constraint trigger on that table checks the whole batch at commit in one
set-based query, then deletes the note. Same guarantee, same messages: a transaction whose
postings are missing or do not balance cannot commit, however it was inserted.
"""

from django.db import migrations

FORWARD = r"""
CREATE UNLOGGED TABLE ledger_unchecked_batch (
    id bigserial PRIMARY KEY,
    transaction_ids bigint[] NOT NULL
);

CREATE FUNCTION ledger_note_new_transactions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_unchecked_batch (transaction_ids)
        SELECT array_agg(id) FROM new_transactions HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE FUNCTION ledger_check_batch_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    good bigint;
    tx record;
    lines bigint;
    unbalanced text;
BEGIN
    -- One scan of the batch's postings, no join (whatever plan the cached statement gets, it
    -- stays linear): the transactions with at least two postings, balanced in every currency.
    SELECT count(*) INTO good FROM (
        SELECT transaction_id FROM (
            SELECT transaction_id, currency, sum(amount) AS total, count(*) AS n
            FROM ledger_posting WHERE transaction_id = ANY(NEW.transaction_ids)
            GROUP BY transaction_id, currency
        ) per_currency
        GROUP BY transaction_id
        HAVING sum(n) >= 2 AND bool_and(total = 0)
    ) balanced;
    IF good = cardinality(NEW.transaction_ids) THEN
        DELETE FROM ledger_unchecked_batch WHERE id = NEW.id;
        RETURN NULL;
    END IF;

    -- Something is wrong: name the first transaction at fault, as the per-row check did.
    FOR tx IN SELECT t.id, t.idempotency_key FROM ledger_transaction t
              WHERE t.id = ANY(NEW.transaction_ids) ORDER BY t.id LOOP
        SELECT coalesce(sum(n), 0), string_agg(CASE WHEN total <> 0 THEN currency || ' ' || total END, ', ')
          INTO lines, unbalanced
          FROM (SELECT currency, sum(amount) AS total, count(*) AS n FROM ledger_posting
                WHERE transaction_id = tx.id GROUP BY currency) s;
        IF lines < 2 THEN
            RAISE EXCEPTION 'ledger transaction % (%) has % posting(s); at least two are required',
                tx.id, tx.idempotency_key, lines USING ERRCODE = 'check_violation';
        END IF;
        IF unbalanced IS NOT NULL THEN
            RAISE EXCEPTION 'unbalanced ledger transaction % (%): %', tx.id, tx.idempotency_key, unbalanced
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    RAISE EXCEPTION 'ledger batch % failed its check without a transaction at fault', NEW.id
        USING ERRCODE = 'check_violation';
END $$;

DROP TRIGGER ledger_transaction_balanced ON ledger_transaction;

CREATE TRIGGER ledger_transaction_noted
    AFTER INSERT ON ledger_transaction
    REFERENCING NEW TABLE AS new_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_note_new_transactions();

CREATE CONSTRAINT TRIGGER ledger_transaction_balanced
    AFTER INSERT ON ledger_unchecked_batch
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_batch_balanced();
"""

REVERSE = r"""
DROP TRIGGER ledger_transaction_balanced ON ledger_unchecked_batch;
DROP TRIGGER ledger_transaction_noted ON ledger_transaction;
DROP FUNCTION ledger_check_batch_balanced();
DROP FUNCTION ledger_note_new_transactions();
DROP TABLE ledger_unchecked_batch;

CREATE CONSTRAINT TRIGGER ledger_transaction_balanced
    AFTER INSERT ON ledger_transaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_transaction_balanced();
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_leaner_ledger_writes")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
