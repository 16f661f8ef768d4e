"""NAPAS bank identification numbers (BIN), as written in VietQR codes, and the short names people know.

The first ten are the project's lesson facts (shared/lesson-facts.md). The others were added only where two
independent public lists give the same BIN for the same bank:
  [E] PyPI package vietqr-emvco 1.0.0, `vietqr_emvco/generator.py` (BANKS_BIN);
  [Q] PyPI package vietnam-qr-pay 1.0.0, `vietnam_qr_pay/constants/banks.py` (BanksObject);
  [G] pub.dev package vietqr_gen, the `Bank` enum of its documentation.
The tests check every entry against [Q].
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from types import MappingProxyType

_LESSON_FACTS = {
    "970436": "Vietcombank",
    "970415": "VietinBank",
    "970418": "BIDV",
    "970405": "Agribank",
    "970422": "MB",
    "970416": "ACB",
    "970407": "Techcombank",
    "970403": "Sacombank",
    "970432": "VPBank",
    "970423": "TPBank",
}

_CROSS_CHECKED = {
    "970437": "HDBank",  # [E] [Q] [G]
    "970443": "SHB",  # [E] [Q]
    "970441": "VIB",  # [E] [Q]
    "970431": "Eximbank",  # [E] [Q] [G]
    "970426": "MSB",  # [E] [Q] [G]
    "970448": "OCB",  # [E] [Q] [G]
    "970440": "SeABank",  # [E] [Q]
    "970449": "LPBank",  # [E] [Q] [G] (formerly LienVietPostBank, same BIN)
    "970425": "ABBank",  # [E] [Q]
    "970412": "PVcomBank",  # [E] [Q] [G]
    "970429": "SCB",  # [E] [Q] [G]
    "970409": "Bac A Bank",  # [E] [Q] [G]
    "970424": "Shinhan Bank",  # [E] [Q]
    "970428": "Nam A Bank",  # [Q] [G]
    "970419": "NCB",  # [Q] [G]
    "970452": "Kienlongbank",  # [Q] [G]
    "970438": "BaoViet Bank",  # [Q] [G]
}

BANKS: Mapping[str, str] = MappingProxyType({**_LESSON_FACTS, **_CROSS_CHECKED})
"""BIN (6 digits) → the short name people see in their banking app."""

# Words in a web address that claim to be a bank: long, distinctive names only, so that ordinary words do not match.
BANK_WORDS: frozenset[str] = frozenset({
    "vietcombank", "vietinbank", "bidv", "agribank", "mbbank", "techcombank", "sacombank", "vpbank", "tpbank",
    "hdbank", "eximbank", "seabank", "lpbank", "pvcombank", "shinhan", "kienlongbank", "baovietbank", "namabank",
    "nganhang", "napas",
})


def bank_name(bin_: str) -> str | None:
    """The short name of the bank with this BIN, or None when we do not know it."""
    return BANKS.get(bin_.strip())


def bin_for(name: str) -> str | None:
    """The BIN of a bank from its short name, ignoring case, spaces and marks ("agribank", "Bac A Bank")."""
    wanted = _squash(name)
    for bin_, short in BANKS.items():
        if _squash(short) == wanted:
            return bin_
    return None


def _squash(text: str) -> str:
    bare = unicodedata.normalize("NFD", text.casefold())
    return "".join(ch for ch in bare if ch.isalnum() and not unicodedata.combining(ch))
