from __future__ import annotations

import unicodedata

import pytest

from bot.media.qr import decode_qr, make_qr_png
from bot.media.qrcheck import QRVerdict, explain, format_dong, registrable_domain, wifi_fields
from bot.media.vietqr import build
from tests.media.images import no_code_photo, photo_of

PRACTICE = build("970405", "1234567890", amount=50_000, message="Ung ho quy khuyen hoc")


def seen(payload: str, *, angle: float, scale: float, seed: int) -> QRVerdict:
    """Print the payload as a QR code, photograph it badly, read the photo back, and explain it."""
    found = decode_qr(photo_of(make_qr_png(payload), angle=angle, scale=scale, noise=35, blur=1.8, seed=seed))
    assert found == [payload]
    return explain(found)


def has(verdict: QRVerdict, *needles: str) -> bool:
    return all(needle in verdict.text for needle in needles)


# --- from photos -------------------------------------------------------------------------------------------------

def test_photo_of_a_vietqr_shows_bank_account_amount_and_the_name_check() -> None:
    verdict = seen(PRACTICE, angle=12, scale=0.8, seed=1)
    assert (verdict.kind, verdict.warning) == ("vietqr", False)
    assert has(verdict, "Agribank", "1234567890", "50.000 đ", "Ung ho quy khuyen hoc",
               "⚠️ Hãy kiểm tra tên người nhận trên ứng dụng ngân hàng trước khi chuyển.")
    assert verdict.vietqr is not None and verdict.vietqr.amount == 50_000


def test_photo_of_a_gov_vn_link_is_trusted() -> None:
    verdict = seen("https://dichvucong.gov.vn/p/home/dvc-trang-chu.html", angle=-9, scale=0.9, seed=2)
    assert (verdict.kind, verdict.warning, verdict.domain) == ("url", False, "dichvucong.gov.vn")
    assert has(verdict, "Trang này thuộc tên miền: **dichvucong.gov.vn**", "✅", ".gov.vn")
    assert "⚠️" not in verdict.text


def test_photo_of_a_look_alike_portal_is_a_warning() -> None:
    verdict = seen("https://dichvucongbaohiemxahoi.com/dang-nhap", angle=15, scale=0.7, seed=3)
    assert (verdict.kind, verdict.warning, verdict.domain) == ("url", True, "dichvucongbaohiemxahoi.com")
    assert has(verdict, "dichvucongbaohiemxahoi.com", "không có đuôi .gov.vn", "⚠️", "OTP")
    assert "✅" not in verdict.text


def test_photo_of_wifi_details_names_the_network_and_hides_the_password() -> None:
    verdict = seen("WIFI:T:WPA;S:NhaVanHoa-Xom3;P:bachngoc2026;;", angle=8, scale=0.9, seed=4)
    assert (verdict.kind, verdict.warning) == ("wifi", False)
    assert has(verdict, "Wi-Fi", "NhaVanHoa-Xom3", "có mật khẩu", "ngân hàng")
    assert "bachngoc2026" not in verdict.text


def test_photo_of_plain_text_shows_it() -> None:
    verdict = seen("Họp xóm 7 giờ 30 sáng thứ Bảy tại nhà văn hóa", angle=-13, scale=0.8, seed=5)
    assert (verdict.kind, verdict.warning) == ("text", False)
    assert has(verdict, "Họp xóm 7 giờ 30 sáng thứ Bảy tại nhà văn hóa")


def test_photo_without_a_code_gives_tips() -> None:
    verdict = explain(decode_qr(no_code_photo()))
    assert (verdict.kind, verdict.warning) == ("none", False)
    assert has(verdict, "{Cháu} không đọc được mã", "đủ sáng", "thẳng", "15–20 cm", "rõ cả mã")


# --- payments ----------------------------------------------------------------------------------------------------

def test_static_vietqr_asks_for_the_amount_and_card_codes_say_card() -> None:
    static = explain([build("970436", "0011001234567")])
    assert static.kind == "vietqr" and has(static, "Vietcombank", "tự gõ số tiền")
    card = explain([build("970423", "9704231234567890", amount=1_250_000, service="card")])
    assert has(card, "TPBank", "Số thẻ", "1.250.000 đ")


def test_unknown_bank_is_shown_by_its_number() -> None:
    assert has(explain([build("970499", "1234567890")]), "970499")


def test_tampered_payment_code_is_a_warning() -> None:
    tampered = PRACTICE.replace("50000", "90000")
    verdict = explain([tampered])
    assert (verdict.kind, verdict.warning) == ("payment_broken", True)
    assert has(verdict, "⚠️", "bị sửa", "đừng chuyển tiền")
    truncated = explain([PRACTICE[:60]])
    assert (truncated.kind, truncated.warning) == ("payment_broken", True)


def test_other_payment_codes_are_not_called_vietqr() -> None:
    from bot.media.vietqr import crc16

    body = "00020101021126280010A0000007750110010531429052045812530370454061000005802VN5910CUA HANG A6304"
    verdict = explain([body + crc16(body)])
    assert (verdict.kind, verdict.warning) == ("payment_other", False)


def test_amounts_are_written_vietnamese_style() -> None:
    assert format_dong(50_000) == "50.000 đ"
    assert format_dong(1_200_000) == "1.200.000 đ"
    assert format_dong(500) == "500 đ"


# --- web addresses -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "domain", "words"), [
    ("https://vneid-gov.com/kich-hoat", "vneid-gov.com", ["không có đuôi .gov.vn"]),
    ("https://dichvucong.gov.vn.xyz.com/login", "xyz.com", ["không có đuôi .gov.vn"]),
    ("https://congan-xac-minh.net", "congan-xac-minh.net", ["không có đuôi .gov.vn"]),
    ("https://bit.ly/3xYz9", "bit.ly", ["rút gọn"]),
    ("https://tinyurl.com/qua-tet", "tinyurl.com", ["rút gọn"]),
    ("https://cutt.ly/abc", "cutt.ly", ["rút gọn"]),
    ("http://203.0.113.7/dang-nhap", "203.0.113.7", ["dãy số", "http"]),
    ("http://[2001:db8::1]/", "2001:db8::1", ["dãy số"]),
    ("http://baotintuc-xom.vn/tin", "baotintuc-xom.vn", ["thiếu chữ s"]),
    ("https://dichvucong.gov.vn@evil.example/", "evil.example", ["dấu @"]),
    ("https://xn--vietcombnk-6qi.com/", "xn--vietcombnk-6qi.com", ["chữ lạ"]),
    ("https://vietcombаnk.com/", "xn--vietcombnk-6qi.com", ["chữ lạ", "ngân hàng"]),  # a Cyrillic "а"
    ("https://agribank-hotro.online/otp", "agribank-hotro.online", ["ngân hàng"]),
    ("https://vietc0mbank-online.com", "vietc0mbank-online.com", ["ngân hàng"]),
])
def test_suspicious_addresses_are_warnings(url: str, domain: str, words: list[str]) -> None:
    verdict = explain([url])
    assert (verdict.kind, verdict.warning, verdict.domain) == ("url", True, domain)
    assert has(verdict, domain, "⚠️", "{Bác} đừng mở trang này", *words)
    assert "✅" not in verdict.text


@pytest.mark.parametrize(("url", "domain"), [
    ("https://dichvucong.gov.vn", "dichvucong.gov.vn"),
    ("https://vneid.gov.vn/", "vneid.gov.vn"),
    ("https://baohiemxahoi.gov.vn/tracuu", "baohiemxahoi.gov.vn"),
    ("https://bachngoc.nghean.gov.vn/lich-tiep-dan", "nghean.gov.vn"),
    ("dichvucong.gov.vn", "dichvucong.gov.vn"),
])
def test_gov_vn_addresses_are_trusted(url: str, domain: str) -> None:
    verdict = explain([url])
    assert (verdict.kind, verdict.warning, verdict.domain) == ("url", False, domain)
    assert has(verdict, "✅", domain)


def test_gov_vn_over_plain_http_is_named_but_flagged() -> None:
    verdict = explain(["http://dichvucong.gov.vn/"])
    assert verdict.warning and has(verdict, "✅", "thiếu chữ s")


def test_an_ordinary_site_is_neither_praised_nor_condemned() -> None:
    verdict = explain(["https://vnexpress.net/thoi-su"])
    assert (verdict.kind, verdict.warning, verdict.domain) == ("url", False, "vnexpress.net")
    assert "✅" not in verdict.text and "⚠️" not in verdict.text


def test_a_gift_message_with_a_link_is_a_warning() -> None:
    verdict = explain(["Chúc mừng! Bạn được nhận quà 100.000đ tại https://qua-tet-2026.vn/nhan"])
    assert (verdict.kind, verdict.warning, verdict.domain) == ("url", True, "qua-tet-2026.vn")
    assert has(verdict, "nhận quà 100.000đ", "lừa đảo")


def test_registrable_domains() -> None:
    assert registrable_domain("a.b.dichvucong.gov.vn") == "dichvucong.gov.vn"
    assert registrable_domain("dichvucong.gov.vn.xyz.com") == "xyz.com"
    assert registrable_domain("www.agribank.com.vn") == "agribank.com.vn"
    assert registrable_domain("shop.example.co.uk") == "example.co.uk"


# --- Wi-Fi, text, several codes ----------------------------------------------------------------------------------

def test_wifi_fields_undo_escapes() -> None:
    assert wifi_fields(r"WIFI:T:WPA;S:Nha\;Van\:Hoa;P:a\\b;H:false;;") == {"T": "WPA", "S": "Nha;Van:Hoa",
                                                                           "P": "a\\b", "H": "false"}
    open_net = explain(["WIFI:T:nopass;S:Cho Xa;;"])
    assert open_net.kind == "wifi" and has(open_net, "Cho Xa", "không có mật khẩu")


def test_long_text_is_cut_and_marks_are_neutralised() -> None:
    verdict = explain(["**Rất** dài " * 100])
    assert verdict.kind == "text"
    assert "**Rất**" not in verdict.text and "…" in verdict.text
    assert max(len(line) for line in verdict.lines) < 320


def test_dotted_words_are_text_but_bare_addresses_are_addresses() -> None:
    assert explain(["Nguyen.Van"]).kind == "text"
    bare = explain(["bit.ly/abc"])
    assert (bare.kind, bare.warning, bare.domain) == ("url", True, "bit.ly")
    assert explain(["www.example.org/x"]).domain == "example.org"


def test_text_is_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Bạch Ngọc")
    assert explain([decomposed]).lines[-1] == "«Bạch Ngọc»"


def test_several_codes_are_each_explained() -> None:
    verdict = explain([PRACTICE, "https://bit.ly/x", PRACTICE])
    assert (verdict.kind, verdict.warning) == ("multiple", True)
    assert has(verdict, "2 mã", "Mã thứ 1:", "Agribank", "Mã thứ 2:", "rút gọn")
