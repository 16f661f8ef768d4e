"""VietQR (NAPAS bank-transfer QR on EMVCo): build a payload and read one back, strictly.

A payload is a row of fields, each ID (2 digits) + length (2 digits) + value. We write, in order: 00 "01"; 01 "11"
(static) or "12" (dynamic, with an amount); 38 {00 "A000000727"; 01 {00 BIN, 01 account or card}; 02 "QRIBFTTA"
(account) or "QRIBFTTC" (card)}; 53 "704"; 54 amount in đồng; 58 "VN"; 59 name, 60 city (optional); 62 {08 message};
63 CRC-16/CCITT-FALSE of everything up to and including "6304", as 4 upper-case hex digits.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from bot.media.banks import bank_name

Service = Literal["account", "card"]
Problem = Literal[
    "empty", "truncated", "bad_field", "overlong_field", "duplicate_field", "no_crc", "bad_crc", "bad_version",
    "bad_method", "not_vietqr", "unknown_guid", "bad_bank", "unknown_bank", "bad_account", "bad_service",
    "bad_amount", "bad_currency", "bad_country", "bad_name", "too_long", "bad_practice_account",
]

NAPAS_GUID = "A000000727"
SERVICES: dict[Service, str] = {"account": "QRIBFTTA", "card": "QRIBFTTC"}
MESSAGE_MAX = 25  # what bank apps reliably accept for the transfer message
NAME_MAX = 25  # EMVCo limit of field 59
CITY_MAX = 15  # EMVCo limit of field 60
AMOUNT_MAX = 9_999_999_999_999  # 13 digits
_BIN = re.compile(r"^\d{6}$")
_ACCOUNT = re.compile(r"^[0-9A-Za-z]{1,19}$")
_NOT_SAFE = re.compile(r"[^A-Za-z0-9 ]+")


class VietQRError(ValueError):
    """A payload or an input that is not a valid VietQR; `reason` says why in one word."""

    def __init__(self, reason: Problem, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: Problem = reason


@dataclass(frozen=True)
class VietQR:
    bin: str  # the bank's 6-digit NAPAS BIN
    account: str  # account number, or card number when service == "card"
    amount: int | None = None  # in đồng; None for a static code (the payer types the amount)
    message: str = ""  # transfer message, ASCII
    service: Service = "account"
    name: str = ""  # field 59, if present: the name the code claims (never checked by anyone)
    city: str = ""  # field 60, if present

    @property
    def dynamic(self) -> bool:
        return self.amount is not None

    @property
    def bank(self) -> str | None:
        """The bank's short name, or None for a BIN we do not know."""
        return bank_name(self.bin)

    def payload(self) -> str:
        return build(self.bin, self.account, amount=self.amount, message=self.message, service=self.service,
                     name=self.name, city=self.city)


def ascii_text(text: str, limit: int) -> str:
    """Text as banks expect it: no diacritics (đ → d), only letters, digits and single spaces, at most `limit`."""
    bare = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in bare if not unicodedata.combining(ch))
    return " ".join(_NOT_SAFE.sub(" ", bare).split())[:limit].rstrip()


def crc16(data: str) -> str:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of the UTF-8 bytes, as 4 upper-case hex digits."""
    crc = 0xFFFF
    for byte in data.encode("utf-8"):
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return f"{crc:04X}"


def build(bin_: str, account: str, *, amount: int | None = None, message: str = "", service: Service = "account",
          name: str = "", city: str = "") -> str:
    """The payload text of a VietQR code. The message, name and city are made ASCII-safe and shortened here.

    Raises VietQRError: "bad_bank" (BIN not 6 digits), "bad_account", "bad_amount" (not 1 … 13 digits),
    "bad_service".
    """
    if not _BIN.match(bin_):
        raise VietQRError("bad_bank", bin_)
    if not _ACCOUNT.match(account):
        raise VietQRError("bad_account", account)
    if amount is not None and not 0 < amount <= AMOUNT_MAX:
        raise VietQRError("bad_amount", str(amount))
    if service not in SERVICES:
        raise VietQRError("bad_service", str(service))
    beneficiary = _field("00", bin_) + _field("01", account)
    merchant = _field("00", NAPAS_GUID) + _field("01", beneficiary) + _field("02", SERVICES[service])
    parts = [_field("00", "01"), _field("01", "11" if amount is None else "12"), _field("38", merchant),
             _field("53", "704")]
    if amount is not None:
        parts.append(_field("54", str(amount)))
    parts.append(_field("58", "VN"))
    if clean_name := ascii_text(name, NAME_MAX).upper():
        parts.append(_field("59", clean_name))
    if clean_city := ascii_text(city, CITY_MAX).upper():
        parts.append(_field("60", clean_city))
    if clean_message := ascii_text(message, MESSAGE_MAX):
        parts.append(_field("62", _field("08", clean_message)))
    body = "".join(parts) + "6304"
    return body + crc16(body)


def parse(payload: str) -> VietQR:
    """Read a VietQR payload, checking its structure, CRC and every field we use. Raises VietQRError."""
    text = unicodedata.normalize("NFC", payload.strip())
    if not text:
        raise VietQRError("empty")
    fields = _fields(text, inside=None)
    if list(fields)[-1:] != ["63"] or not re.fullmatch(r"[0-9A-Fa-f]{4}", fields["63"]):
        raise VietQRError("no_crc")
    if crc16(text[:-4]) != text[-4:].upper():
        raise VietQRError("bad_crc")
    if fields.get("00") != "01":
        raise VietQRError("bad_version", fields.get("00", ""))
    if fields.get("01", "11") not in ("11", "12"):
        raise VietQRError("bad_method", fields["01"])
    if "38" not in fields:
        raise VietQRError("not_vietqr", "no field 38")
    merchant = _fields(fields["38"], inside="38")
    if merchant.get("00", "").upper() != NAPAS_GUID:
        raise VietQRError("unknown_guid", merchant.get("00", ""))
    beneficiary = _fields(merchant.get("01", ""), inside="38.01")
    bin_, account = beneficiary.get("00", ""), beneficiary.get("01", "")
    if not _BIN.match(bin_):
        raise VietQRError("bad_bank", bin_)
    if not _ACCOUNT.match(account):
        raise VietQRError("bad_account", account)
    service = next((key for key, code in SERVICES.items() if code == merchant.get("02")), None)
    if service is None:
        raise VietQRError("bad_service", merchant.get("02", ""))
    if fields.get("53") != "704":
        raise VietQRError("bad_currency", fields.get("53", ""))
    if fields.get("58") != "VN":
        raise VietQRError("bad_country", fields.get("58", ""))
    amount: int | None = None
    if "54" in fields:
        if not fields["54"].isascii() or not fields["54"].isdigit() or not 0 < int(fields["54"]) <= AMOUNT_MAX:
            raise VietQRError("bad_amount", fields["54"])
        amount = int(fields["54"])
    extra = _fields(fields["62"], inside="62") if "62" in fields else {}
    return VietQR(bin=bin_, account=account, amount=amount, message=extra.get("08", ""), service=service,
                  name=fields.get("59", ""), city=fields.get("60", ""))


def looks_like_emvco(text: str) -> bool:
    """Whether a text has the opening of an EMVCo payment code ("000201…"), valid or not."""
    return text.strip().startswith("000201")


def parse_practice_account(spec: str) -> tuple[str, str, str]:
    """Read the commune's practice account, as set by an official: "970405:1234567890:UBND XA BACH NGOC".

    Returns (BIN, account, NAME) with the name upper-case ASCII. Raises VietQRError: "bad_practice_account" (not
    three parts), "bad_bank" (BIN not 6 digits), "unknown_bank" (a BIN not in our bank table: likely a typo),
    "bad_account" (not 6–19 digits; spaces, dots and dashes are dropped), "bad_name" (empty or longer than 25).
    """
    parts = [part.strip() for part in spec.split(":")]
    if len(parts) != 3:
        raise VietQRError("bad_practice_account", "expected BIN:ACCOUNT:NAME")
    bin_, account, name = parts[0], re.sub(r"[\s.\-]", "", parts[1]), parts[2]
    if not _BIN.match(bin_):
        raise VietQRError("bad_bank", f"BIN must be 6 digits, got {bin_!r}")
    if bank_name(bin_) is None:
        raise VietQRError("unknown_bank", f"no bank with BIN {bin_} in bot/media/banks.py")
    if not re.fullmatch(r"\d{6,19}", account):
        raise VietQRError("bad_account", f"account must be 6 to 19 digits, got {parts[1]!r}")
    clean = ascii_text(name, NAME_MAX + 1).upper()
    if not clean or len(clean) > NAME_MAX:
        raise VietQRError("bad_name", f"name must be 1 to {NAME_MAX} letters, got {name!r}")
    return bin_, account, clean


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise VietQRError("too_long", f"field {tag} has {len(value)} characters")
    return f"{tag}{len(value):02d}{value}"


def _fields(data: str, *, inside: str | None) -> dict[str, str]:
    """Split ID-length-value fields. At the top level running out of data is "truncated"; inside a template a
    field longer than what is left of its template is "overlong_field"."""
    found: dict[str, str] = {}
    where = inside or "payload"
    short: Problem = "truncated" if inside is None else "overlong_field"
    at = 0
    while at < len(data):
        head = data[at:at + 4]
        if len(head) < 4:
            raise VietQRError(short, f"in {where}")
        if not head.isascii() or not head.isdigit():
            raise VietQRError("bad_field", f"{head!r} in {where}")
        tag, length = head[:2], int(head[2:])
        value = data[at + 4:at + 4 + length]
        if len(value) < length:
            raise VietQRError(short, f"field {tag} in {where}")
        if tag in found:
            raise VietQRError("duplicate_field", tag)
        found[tag] = value
        at += 4 + length
    return found
