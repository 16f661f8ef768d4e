"""VietQR against two independent implementations from PyPI: vietnam-qr-pay and vietqr-emvco (test-only)."""

from __future__ import annotations

import random
import string
import unicodedata

import pytest
from vietnam_qr_pay import BanksObject, QRPay, VietQRService
from vietnam_qr_pay.crc16 import crc16ccitt
from vietqr_emvco import VietQRGenerator, VietQRParser

from bot.media.banks import BANKS, bank_name, bin_for
from bot.media.qr import decode_qr, make_qr_png
from bot.media.vietqr import VietQR, VietQRError, ascii_text, build, crc16, parse, parse_practice_account

CASES = [
    VietQR("970405", "1234567890"),  # static, no message
    VietQR("970405", "1234567890", amount=50_000, message="Ung ho xom 3"),
    VietQR("970436", "0011001234567", amount=1_200_000),
    VietQR("970415", "108001234567", message="Dong tien dien"),
    VietQR("970422", "0987654321", amount=7, message="A"),
    VietQR("970418", "21510000123456", amount=9_999_999_999_999, message="x" * 25),
    VietQR("970423", "9704231234567890", amount=250_000, message="Hoc phi", service="card"),
    VietQR("970403", "060123456789", service="card"),
]


def _service(qr: VietQR) -> VietQRService:
    return VietQRService.BY_CARD_NUMBER if qr.service == "card" else VietQRService.BY_ACCOUNT_NUMBER


def resign(body: str) -> str:
    """A payload with a correct CRC, whatever we broke in `body` (everything before the "6304")."""
    return body + "6304" + crc16(body + "6304")


def reason(payload: str) -> str:
    with pytest.raises(VietQRError) as caught:
        parse(payload)
    return caught.value.reason


def test_crc_is_ccitt_false() -> None:
    assert crc16("123456789") == "29B1"  # the standard check value of CRC-16/CCITT-FALSE
    rng = random.Random(1)
    for _ in range(200):
        text = "".join(rng.choice(string.printable) for _ in range(rng.randrange(1, 120)))
        assert crc16(text) == f"{crc16ccitt(text):04X}"


def test_a_published_payload_parses() -> None:
    # From the README of the npm package napas-qr (duyquoc1508/napas-qr): dynamic, with a bill number and a message.
    payload = ("00020101021238530010A0000007270123000697041601092245284790208QRIBFTTA53037045405100005802VN"
               "62340107NPS68690819TRANSFER TO SOMEONE6304AC13")
    assert parse(payload) == VietQR("970416", "224528479", amount=10_000, message="TRANSFER TO SOMEONE")


@pytest.mark.parametrize("qr", CASES, ids=lambda qr: f"{qr.bin}-{qr.amount}-{qr.service}-{bool(qr.message)}")
def test_ours_parse_with_vietnam_qr_pay(qr: VietQR) -> None:
    payload = qr.payload()
    theirs = QRPay(payload)
    assert theirs.is_valid
    assert theirs.version == "01"
    assert theirs.init_method == ("12" if qr.amount else "11")
    assert theirs.provider.guid == "A000000727"
    assert (theirs.consumer.bank_bin, theirs.consumer.bank_number) == (qr.bin, qr.account)
    assert theirs.provider.service == _service(qr).value
    assert theirs.amount == (str(qr.amount) if qr.amount else None)
    assert theirs.additional_data.purpose == (qr.message or None)
    assert (theirs.currency, theirs.nation) == ("704", "VN")
    assert theirs.build() == payload  # they rebuild exactly our bytes, CRC included


@pytest.mark.parametrize("qr", CASES, ids=lambda qr: f"{qr.bin}-{qr.amount}-{qr.service}-{bool(qr.message)}")
def test_ours_parse_with_vietqr_emvco(qr: VietQR) -> None:
    payload = qr.payload()
    assert VietQRParser.verify_checksum(payload)
    theirs = VietQRParser.parse(payload)
    assert (theirs["bank_bin"], theirs["account_number"]) == (qr.bin, qr.account)
    assert theirs["napas_guid"] == "A000000727"
    assert theirs["amount"] == (float(qr.amount) if qr.amount else None)
    assert theirs["memo"] == qr.message
    assert theirs["service_code"] == _service(qr).value
    assert theirs["point_of_initiation_method"] == ("12" if qr.amount else "11")


@pytest.mark.parametrize("qr", CASES, ids=lambda qr: f"{qr.bin}-{qr.amount}-{qr.service}-{bool(qr.message)}")
def test_vietnam_qr_pay_payloads_parse_with_ours(qr: VietQR) -> None:
    payload = QRPay.init_viet_qr(bank_bin=qr.bin, bank_number=qr.account,
                                 amount=str(qr.amount) if qr.amount else None, purpose=qr.message or None,
                                 service=_service(qr)).build()
    assert parse(payload) == qr
    assert decode_qr(make_qr_png(payload)) == [payload]


@pytest.mark.parametrize("qr", [c for c in CASES if c.service == "account"],
                         ids=lambda qr: f"{qr.bin}-{qr.amount}-{bool(qr.message)}")
def test_vietqr_emvco_payloads_parse_with_ours(qr: VietQR) -> None:
    payload = VietQRGenerator(qr.bin, qr.account).generate(amount=qr.amount, memo=qr.message or None,
                                                           merchant_name="UBND XA BACH NGOC")
    ours = parse(payload)  # theirs also carries 52 (category) and 59 (name)
    assert (ours.bin, ours.account, ours.amount, ours.message) == (qr.bin, qr.account, qr.amount, qr.message)
    assert ours.name == "UBND XA BACH NGOC"


def test_our_payloads_round_trip_and_through_a_qr_image() -> None:
    for qr in CASES:
        assert parse(qr.payload()) == qr
        assert decode_qr(make_qr_png(qr.payload())) == [qr.payload()]


def test_messages_names_and_cities_are_made_ascii_and_short() -> None:
    payload = build("970405", "1234567890", amount=20_000, message="Đóng góp: quỹ khuyến học, xóm Đông!",
                    name="Uỷ ban nhân dân xã Bạch Ngọc tỉnh Nghệ An", city="Nghệ An")
    assert payload.isascii()
    qr = parse(payload)
    assert qr.message == "Dong gop quy khuyen hoc x"
    assert len(qr.message) <= 25
    assert qr.name == "UY BAN NHAN DAN XA BACH NG"[:25]
    assert qr.city == "NGHE AN"
    assert QRPay(payload).is_valid
    assert ascii_text(unicodedata.normalize("NFD", "Bạch Ngọc"), 25) == "Bach Ngoc"


@pytest.mark.parametrize(("args", "expected"), [
    (("97040", "1234567890"), "bad_bank"),
    (("970405", ""), "bad_account"),
    (("970405", "12 34"), "bad_account"),
    (("970405", "1" * 20), "bad_account"),
])
def test_build_refuses_bad_inputs(args: tuple[str, str], expected: str) -> None:
    with pytest.raises(VietQRError) as caught:
        build(*args)
    assert caught.value.reason == expected


@pytest.mark.parametrize("amount", [0, -5, 10**13])
def test_build_refuses_bad_amounts(amount: int) -> None:
    with pytest.raises(VietQRError) as caught:
        build("970405", "1234567890", amount=amount)
    assert caught.value.reason == "bad_amount"


GOOD = build("970405", "1234567890", amount=50_000, message="Ung ho xom 3")
BODY = GOOD[:-8]  # without "6304" and the CRC


def test_a_wrong_crc_is_refused() -> None:
    wrong = GOOD[:-4] + ("0000" if GOOD[-4:] != "0000" else "FFFF")
    assert reason(wrong) == "bad_crc"
    assert reason(GOOD.replace("540550000", "540590000")) == "bad_crc"  # the amount changed, the CRC kept
    assert not QRPay(wrong).is_valid  # the independent library agrees


def test_a_missing_crc_is_refused() -> None:
    assert reason(BODY) == "no_crc"
    assert reason(BODY + "6304") == "truncated"
    assert reason(BODY + "6304XYZW") == "no_crc"


def test_every_truncation_is_refused() -> None:
    for cut in range(1, len(GOOD)):
        with pytest.raises(VietQRError) as caught:
            parse(GOOD[:cut])
        assert caught.value.reason in ("truncated", "no_crc", "bad_crc"), cut
    assert reason(GOOD[:-2]) == "truncated"
    assert reason(GOOD[:30]) == "truncated"


def test_over_long_fields_are_refused() -> None:
    # Inside field 38 the GUID claims 12 characters; its template ends first.
    inner = BODY.replace("0010A000000727", "0012A000000727", 1)
    assert reason(resign(inner)) == "overlong_field"
    # Field 62 claims more than the payload holds.
    assert reason(resign(BODY.replace("62160812Ung ho xom 3", "62990812Ung ho xom 3"))) == "truncated"
    # A message subfield longer than field 62 itself.
    assert reason(resign(BODY.replace("62160812Ung ho xom 3", "62160899Ung ho xom 3"))) == "overlong_field"
    # A length that is not two digits.
    assert reason(resign(BODY.replace("5303704", "53A3704"))) == "bad_field"


@pytest.mark.parametrize(("change", "expected"), [
    (("A000000727", "A000000775"), "unknown_guid"),
    (("5405500005802VN", "540550A005802VN"), "bad_amount"),
    (("5405500005802VN", "5405-50005802VN"), "bad_amount"),
    (("5303704", "5303840"), "bad_currency"),
    (("5802VN", "5802US"), "bad_country"),
    (("0208QRIBFTTA", "0208QRIBFTTX"), "bad_service"),
    (("000201", "000202"), "bad_version"),
    (("010212", "010213"), "bad_method"),
    (("0006970405", "0006ABC405"), "bad_bank"),
])
def test_wrong_fields_are_refused_with_a_reason(change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in BODY
    assert reason(resign(BODY.replace(old, new, 1))) == expected


def test_other_refusals() -> None:
    assert reason("") == "empty"
    assert reason(resign("000201010211")) == "not_vietqr"
    assert reason(resign(BODY + "5802VN")) == "duplicate_field"


def test_practice_account() -> None:
    assert parse_practice_account("970405:1234567890:UBND XA BACH NGOC") == ("970405", "1234567890",
                                                                              "UBND XA BACH NGOC")
    assert parse_practice_account(" 970405 : 1234 5678.90 : Uỷ ban xã Bạch Ngọc ") == (
        "970405", "1234567890", "UY BAN XA BACH NGOC")


@pytest.mark.parametrize(("spec", "expected"), [
    ("970405:1234567890", "bad_practice_account"),
    ("970405:1234567890:UBND:XA", "bad_practice_account"),
    ("97040:1234567890:UBND", "bad_bank"),
    ("970499:1234567890:UBND", "unknown_bank"),
    ("970405:12345:UBND", "bad_account"),
    ("970405:12345abc90:UBND", "bad_account"),
    ("970405:1234567890:  ", "bad_name"),
    ("970405:1234567890:" + "A" * 26, "bad_name"),
])
def test_practice_account_errors_are_clear(spec: str, expected: str) -> None:
    with pytest.raises(VietQRError) as caught:
        parse_practice_account(spec)
    assert caught.value.reason == expected


def test_bank_table_has_the_lesson_facts_and_agrees_with_vietnam_qr_pay() -> None:
    lesson_facts = {"Vietcombank": "970436", "VietinBank": "970415", "BIDV": "970418", "Agribank": "970405",
                    "MB": "970422", "ACB": "970416", "Techcombank": "970407", "Sacombank": "970403",
                    "VPBank": "970432", "TPBank": "970423"}
    for name, bin_ in lesson_facts.items():
        assert bank_name(bin_) == name
        assert bin_for(name.upper()) == bin_

    def squash(text: str) -> str:
        return "".join(ch for ch in text.casefold() if ch.isalnum())

    theirs: dict[str, set[str]] = {}
    for bank in BanksObject.values():
        theirs.setdefault(bank.bin, set()).add(squash(bank.short_name))
    for bin_, short in BANKS.items():
        assert bin_ in theirs, bin_
        assert any(squash(short) in known or known in squash(short) for known in theirs[bin_]), (bin_, short)
