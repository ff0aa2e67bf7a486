"""The chain the ledger anchors on, from settings. The key comes from the environment only;
anvil's well-known dev key is used solely for a local anvil node outside production."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from django.conf import settings

from core.errors import ApplicationError, DependencyDown

# Anvil's first dev account: public knowledge, holds only play money on a local node.
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # noqa: S105
ANVIL_CHAIN_ID = 31337
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ChainUnavailable(DependencyDown):
    """The node did not answer (down, timed out, refused)."""

    code = "chain_unavailable"


class ChainMisconfigured(ApplicationError):
    """The chain side cannot work as configured (no key, no contract, not the recorder)."""

    status_code = 503
    code = "chain_misconfigured"


@dataclass(frozen=True)
class ChainConfig:
    network: str
    rpc_url: str
    chain_id: int
    private_key: str
    contract_address: str
    timeout_s: float
    confirmations: int
    gas_limit: int
    min_priority_fee_wei: int
    max_fee_wei: int
    fee_bump_pct: int
    stuck_after_s: int
    receipt_wait_s: float
    batch_size: int
    max_attempts: int
    retry_base_s: int
    retry_max_s: int

    @property
    def is_local_dev(self) -> bool:
        """A throwaway local node: anvil's chain id on 127.0.0.1, outside production."""
        host = urlparse(self.rpc_url).hostname or ""
        return host in LOCAL_HOSTS and self.chain_id == ANVIL_CHAIN_ID and not settings.PRODUCTION


def chain_config(**overrides: object) -> ChainConfig:
    values: dict[str, object] = {
        "network": settings.LEDGER_NETWORK,
        "rpc_url": settings.POLYGON_RPC_URL,
        "chain_id": settings.LEDGER_CHAIN_ID,
        "private_key": settings.LEDGER_PRIVATE_KEY,
        "contract_address": settings.LEDGER_CONTRACT_ADDRESS,
        "timeout_s": settings.LEDGER_RPC_TIMEOUT_S,
        "confirmations": max(1, settings.LEDGER_CONFIRMATIONS),
        "gas_limit": settings.LEDGER_GAS_LIMIT,
        "min_priority_fee_wei": settings.LEDGER_MIN_PRIORITY_FEE_WEI,
        "max_fee_wei": settings.LEDGER_MAX_FEE_WEI,
        "fee_bump_pct": max(10, settings.LEDGER_FEE_BUMP_PCT),
        "stuck_after_s": settings.LEDGER_STUCK_AFTER_S,
        "receipt_wait_s": settings.LEDGER_RECEIPT_WAIT_S,
        "batch_size": settings.LEDGER_BATCH_SIZE,
        "max_attempts": settings.LEDGER_MAX_ATTEMPTS,
        "retry_base_s": settings.LEDGER_RETRY_BASE_S,
        "retry_max_s": settings.LEDGER_RETRY_MAX_S,
    }
    values.update(overrides)
    config = ChainConfig(**values)  # type: ignore[arg-type]
    if not config.private_key:
        if not config.is_local_dev:
            raise ChainMisconfigured(
                "LEDGER_PRIVATE_KEY is not set: the ledger cannot sign on this network.",
                details={"network": config.network, "chain_id": config.chain_id},
            )
        config = ChainConfig(**{**config.__dict__, "private_key": ANVIL_DEV_KEY})
    return config
