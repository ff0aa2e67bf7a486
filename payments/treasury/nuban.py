"""NUBAN, the Nigerian 10-digit account number: a 9-digit serial and a check digit.

The check digit covers the 3-digit bank code and the serial with weights 3,7,3,3,7,3,3,7,3,3,7,3:
check = (10 - sum mod 10) mod 10. Bank 011, serial 000001457 gives 0000014579.
"""

from __future__ import annotations

WEMA_BANK_CODE = "035"
_WEIGHTS = (3, 7, 3, 3, 7, 3, 3, 7, 3, 3, 7, 3)


def nuban_check_digit(*, bank_code: str, serial: str) -> int:
    if len(bank_code) != 3 or len(serial) != 9 or not (bank_code + serial).isdigit():
        raise ValueError("a NUBAN check digit needs a 3-digit bank code and a 9-digit serial")
    total = sum(int(digit) * weight for digit, weight in zip(bank_code + serial, _WEIGHTS, strict=True))
    return (10 - total % 10) % 10


def nuban_valid(*, bank_code: str, account_number: str) -> bool:
    if not isinstance(account_number, str) or len(account_number) != 10 or not account_number.isdigit():
        return False
    if not isinstance(bank_code, str) or len(bank_code) != 3 or not bank_code.isdigit():
        return False
    return nuban_check_digit(bank_code=bank_code, serial=account_number[:9]) == int(account_number[9])


def nuban_make(*, bank_code: str, serial: int) -> str:
    digits = f"{serial:09d}"
    return digits + str(nuban_check_digit(bank_code=bank_code, serial=digits))
