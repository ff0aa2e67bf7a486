"""A transaction written together with its postings is checked at the end of that statement;
only one whose postings come later waits for the check at commit.

The one-statement post (`ledger.journal.post_one`) inserts the transaction row and its postings
in the same statement. Since 0007 every new transaction was noted in `ledger_unchecked_batch`
and checked at commit by a deferred trigger: for a single transfer that was a row written and
deleted again, a deferred trigger call, and a query PostgreSQL planned afresh each time (its
array parameter), about a fifth of the statement's whole cost.

Now the statement-level trigger on ledger_transaction looks at each new transaction's postings
as the statement ends (an AFTER trigger sees everything the statement wrote):
- with postings: it checks them there and then, at least two summing to zero per currency, and
  raises the same errors the commit-time check raises;
- without postings (the bulk path inserts the transactions, then COPYs their postings; or SQL
  written by hand): noted in `ledger_unchecked_batch` and checked at commit as before.

Which check a transaction gets depends only on what the database holds at the end of its own
INSERT, never on anything a caller sets or says. Both checks refuse a transaction with no
postings or unbalanced ones. A transaction checked at its statement's end stays balanced: postings
are never updated or deleted (0003's append-only triggers), and every later INSERT of postings is
checked to balance per transaction and currency on its own (`ledger_check_new_postings`).
"""

from django.db import migrations

FORWARD = r"""
-- Raise the error for the first transaction of `ids` (in id order) whose postings are fewer than
-- two or do not sum to zero per currency; return quietly when all are good.
CREATE FUNCTION ledger_refuse_unbalanced(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    tx record;
    lines bigint;
    unbalanced text;
BEGIN
    FOR tx IN SELECT t.id, t.idempotency_key FROM ledger_transaction t
              WHERE t.id = ANY(ids) ORDER BY t.id LOOP
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
END $$;

CREATE OR REPLACE FUNCTION ledger_note_new_transactions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pending bigint[];
    doubtful bigint[];
BEGIN
    -- The common case in one question: every new transaction already has at least two postings,
    -- in one currency, summing to zero (a one-statement post). A subquery per row, so each is
    -- one probe of the postings' transaction_id index whatever the statement wrote; no
    -- parameters, so the plan is made once per connection.
    IF NOT EXISTS (
        SELECT 1 FROM new_transactions t
        WHERE NOT coalesce((SELECT count(*) >= 2 AND sum(p.amount) = 0 AND min(p.currency) = max(p.currency)
                            FROM ledger_posting p WHERE p.transaction_id = t.id), false)
    ) THEN
        RETURN NULL;
    END IF;

    -- Otherwise, per new transaction: no postings yet (0); checked as above (1); anything else
    -- (2: wrong, or spread over currencies), which the full check decides.
    SELECT array_agg(id) FILTER (WHERE state = 0), array_agg(id) FILTER (WHERE state = 2)
      INTO pending, doubtful
      FROM (SELECT t.id,
                   (SELECT CASE WHEN count(*) = 0 THEN 0
                                WHEN count(*) >= 2 AND sum(p.amount) = 0 AND min(p.currency) = max(p.currency)
                                THEN 1 ELSE 2 END
                    FROM ledger_posting p WHERE p.transaction_id = t.id) AS state
            FROM new_transactions t OFFSET 0) s;  -- OFFSET 0: one subquery per row, not one per use
    IF doubtful IS NOT NULL THEN
        PERFORM ledger_refuse_unbalanced(doubtful);
    END IF;
    IF pending IS NOT NULL THEN
        -- Their postings come in later statements: checked at commit (0007).
        INSERT INTO ledger_unchecked_batch (transaction_ids) VALUES (pending);
    END IF;
    RETURN NULL;
END $$;
-- Planned with stale statistics, the probes of a large statement can look dear enough for JIT,
-- which compiles for far longer than they take.
ALTER FUNCTION ledger_note_new_transactions() SET jit = off;

CREATE OR REPLACE FUNCTION ledger_check_batch_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    good bigint;
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

    -- Something is wrong: name the first transaction at fault.
    PERFORM ledger_refuse_unbalanced(NEW.transaction_ids);
    RAISE EXCEPTION 'ledger batch % failed its check without a transaction at fault', NEW.id
        USING ERRCODE = 'check_violation';
END $$;
"""

# 0007's definitions, which note every new transaction for the check at commit.
REVERSE = r"""
ALTER FUNCTION ledger_note_new_transactions() RESET ALL;
CREATE OR REPLACE FUNCTION ledger_note_new_transactions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_unchecked_batch (transaction_ids)
        SELECT array_agg(id) FROM new_transactions HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION ledger_check_batch_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    good bigint;
    tx record;
    lines bigint;
    unbalanced text;
BEGIN
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

DROP FUNCTION ledger_refuse_unbalanced(bigint[]);
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0009_single_post_functions")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
