"""The ledger's invariants, enforced by PostgreSQL whatever the code does.

Costs were chosen per statement or per transaction, never per posting row (see DESIGN.md):
- append-only: a statement-level trigger rejects any UPDATE or DELETE of transactions and postings;
- postings: a statement-level trigger over the inserted rows (a transition table) checks that
  each posting's transaction exists, that its account exists and holds its currency, and that
  the rows of each transaction it inserts sum to zero per currency;
- transactions: a deferred constraint trigger checks at commit that each new transaction has
  at least two postings summing to zero per currency (so an entry with no lines cannot commit).
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION ledger_reject_mutation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only: % on % is not allowed; post a reversing transaction',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TRIGGER ledger_transaction_append_only
    BEFORE UPDATE OR DELETE ON ledger_transaction
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_mutation();
CREATE TRIGGER ledger_posting_append_only
    BEFORE UPDATE OR DELETE ON ledger_posting
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_mutation();

CREATE FUNCTION ledger_check_new_postings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.transaction_id INTO bad FROM new_postings n
        LEFT JOIN ledger_transaction t ON t.id = n.transaction_id
        WHERE t.id IS NULL LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'posting for ledger transaction %, which does not exist',
            bad.transaction_id USING ERRCODE = 'foreign_key_violation';
    END IF;

    SELECT n.account_id, n.currency INTO bad FROM new_postings n
        LEFT JOIN ledger_account a ON a.id = n.account_id
        WHERE a.id IS NULL OR a.currency <> n.currency LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'posting on account % in %: no such account, or it holds another currency',
            bad.account_id, bad.currency USING ERRCODE = 'foreign_key_violation';
    END IF;

    SELECT transaction_id, currency, sum(amount) AS total INTO bad FROM new_postings
        GROUP BY transaction_id, currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unbalanced ledger transaction %: % % left over',
            bad.transaction_id, bad.total, bad.currency USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_posting_checks
    AFTER INSERT ON ledger_posting
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_new_postings();

CREATE FUNCTION ledger_check_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lines integer;
    unbalanced text;
BEGIN
    SELECT count(*) INTO lines FROM ledger_posting WHERE transaction_id = NEW.id;
    IF lines < 2 THEN
        RAISE EXCEPTION 'ledger transaction % (%) has % posting(s); at least two are required',
            NEW.id, NEW.idempotency_key, lines USING ERRCODE = 'check_violation';
    END IF;
    SELECT string_agg(currency || ' ' || total, ', ') INTO unbalanced FROM (
        SELECT currency, sum(amount) AS total FROM ledger_posting WHERE transaction_id = NEW.id
        GROUP BY currency HAVING sum(amount) <> 0) s;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'unbalanced ledger transaction % (%): %', NEW.id, NEW.idempotency_key, unbalanced
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_transaction_balanced
    AFTER INSERT ON ledger_transaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_transaction_balanced();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS ledger_transaction_balanced ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_posting_checks ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_posting_append_only ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_transaction_append_only ON ledger_transaction;
DROP FUNCTION IF EXISTS ledger_check_transaction_balanced();
DROP FUNCTION IF EXISTS ledger_check_new_postings();
DROP FUNCTION IF EXISTS ledger_reject_mutation();
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_initial")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
