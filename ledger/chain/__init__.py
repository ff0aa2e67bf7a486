"""The on-chain audit trail: big wins anchored on a public chain by the BetLedger contract.

Generic on purpose (the ledger knows nothing of bets): the settlement layer asks for a record
with `chain_record_request(subject_id=, win_amount=, currency=)`; anchoring sends the pending
records, confirms them, replaces what is stuck and retries what failed; verification reads
every confirmed record back from the chain.
"""
