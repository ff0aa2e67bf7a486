"""`ledger_refuse(report)`: raised by the statement that posts one transaction when a wallet would
go below zero (or an account is wrong), so the statement fails as a whole and nothing it did
stays, whether it ran inside a caller's transaction or on its own in autocommit."""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION ledger_refuse(report json) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger post refused' USING ERRCODE = 'TL001', DETAIL = report::text;
END $$;
"""

BACKWARD = "DROP FUNCTION IF EXISTS ledger_refuse(json);"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_leaner_ledger_checks")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
