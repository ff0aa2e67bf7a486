"""BVNs at rest: Fernet (AES-128-CBC + HMAC-SHA256) under `BVN_ENCRYPTION_KEY`.

Several keys may be configured for rotation (the first encrypts, all decrypt). With none, one key
is derived from SECRET_KEY with HKDF-SHA256 under its own label, so it is never SECRET_KEY itself.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tote:bvn-encryption:v1").derive(
            secret_key.encode()
        )
        keys = (base64.urlsafe_b64encode(derived).decode(),)
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _cipher() -> MultiFernet:
    return _fernet(tuple(settings.BVN_ENCRYPTION_KEY), settings.SECRET_KEY)


def bvn_encrypt(bvn: str) -> str:
    return _cipher().encrypt(bvn.encode()).decode()


def bvn_decrypt(token: str) -> str:
    """For the provider calls that need the BVN again; never for display."""
    return _cipher().decrypt(token.encode()).decode()
