"""Configuration, fees, tasks, schedule and admin screens of the chain side."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.test import Client

from core.schedule import Periodic
from ledger import schedule, tasks
from ledger.chain.client import ChainClient, ChainRejected, Fees
from ledger.chain.config import ANVIL_DEV_KEY, ChainMisconfigured, chain_config
from ledger.chain.local import free_port
from ledger.chain.services import chain_record_request
from ledger.models import ChainRecord

pytestmark = pytest.mark.django_db


def test_the_dev_key_is_only_for_a_local_anvil(settings: Any) -> None:
    local = chain_config(rpc_url="http://127.0.0.1:8545", chain_id=31337, private_key="", network="anvil")
    assert local.private_key == ANVIL_DEV_KEY

    with pytest.raises(ChainMisconfigured, match="LEDGER_PRIVATE_KEY is not set"):
        chain_config(rpc_url="https://rpc-amoy.polygon.technology/", chain_id=80002, private_key="", network="amoy")
    with pytest.raises(ChainMisconfigured):
        chain_config(rpc_url="http://127.0.0.1:8545", chain_id=80002, private_key="", network="amoy")
    settings.PRODUCTION = True
    with pytest.raises(ChainMisconfigured):
        chain_config(rpc_url="http://127.0.0.1:8545", chain_id=31337, private_key="", network="anvil")


def test_a_replacement_bids_at_least_the_bump_and_never_above_the_cap(tester_client: ChainClient) -> None:
    fresh = tester_client.suggest_fees()
    assert fresh.max_fee_per_gas >= fresh.max_priority_fee_per_gas >= tester_client.config.min_priority_fee_wei

    stuck = Fees(max_fee_per_gas=10 * 10**9, max_priority_fee_per_gas=4 * 10**9)
    bumped = tester_client.bumped_fees(stuck)
    assert bumped.max_priority_fee_per_gas >= 5 * 10**9  # +25%
    assert bumped.max_fee_per_gas >= 12_500_000_000

    capped = ChainClient(
        w3=tester_client.w3,
        config=dataclasses.replace(tester_client.config, max_fee_wei=11 * 10**9),
        contract_address=tester_client.contract_address,
    )
    assert capped.bumped_fees(stuck).max_fee_per_gas == 11 * 10**9
    with pytest.raises(ChainRejected, match="LEDGER_MAX_FEE_WEI"):
        capped.bumped_fees(Fees(max_fee_per_gas=40 * 10**9, max_priority_fee_per_gas=20 * 10**9))


def test_tasks_with_nothing_to_do_do_not_touch_the_node(settings: Any) -> None:
    settings.POLYGON_RPC_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert (
        tasks.anchor_sweep()
        == tasks.anchor_big_wins()
        == ("sent 0, replaced 0, confirmed 0, back to pending 0, failed 0, awaiting confirmation 0")
    )


def test_tasks_survive_a_node_that_is_down(settings: Any) -> None:
    settings.LEDGER_NETWORK = "anvil"
    settings.LEDGER_CHAIN_ID = 31337
    settings.LEDGER_PRIVATE_KEY = ""
    settings.POLYGON_RPC_URL = f"http://127.0.0.1:{free_port()}"
    chain_record_request(subject_id=1, win_amount=150_000_000, currency="NGN")

    assert tasks.anchor_big_wins() == "chain_unavailable"
    assert ChainRecord.objects.get().status == ChainRecord.Status.PENDING


def test_the_schedule_declares_both_chain_tasks() -> None:
    by_task = {p.task: p for p in schedule.PERIODIC_TASKS}
    assert isinstance(by_task["ledger.tasks.anchor_big_wins"], Periodic)
    assert by_task["ledger.tasks.anchor_big_wins"].queue == "chain"
    assert by_task["ledger.tasks.anchor_sweep"].every_s == 30


def test_admin_lists_records_and_retries_failed_ones(staff: Any) -> None:
    staff.is_superuser = True
    staff.save()
    record = chain_record_request(subject_id=77, win_amount=150_000_000, currency="NGN")
    ChainRecord.objects.filter(pk=record.pk).update(status=ChainRecord.Status.FAILED, error="gave up", attempts=12)
    client = Client()
    client.force_login(staff)

    page = client.get("/admin/ledger/chainrecord/", {"q": "77"})
    assert page.status_code == 200 and b"NGN 1,500,000.00" in page.content

    response = client.post(
        "/admin/ledger/chainrecord/", {"action": "retry_failed", "_selected_action": [record.pk]}, follow=True
    )
    assert b"1 record(s) pending again" in response.content
    record.refresh_from_db()
    assert (record.status, record.attempts) == (ChainRecord.Status.PENDING, 0)
    assert client.get("/admin/ledger/chaindeployment/").status_code == 200
