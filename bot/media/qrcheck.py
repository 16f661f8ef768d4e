"""What a scanned QR code really holds, told plainly to an older villager ("{bác}"; the caller adapts the pronouns).

Pure logic over the decoded texts: a bank transfer (VietQR), a web address (with the real domain spelled out and
the usual tricks flagged), Wi-Fi details, plain text, a damaged payment code, or nothing at all.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from bot.media.banks import BANK_WORDS
from bot.media.vietqr import VietQR, VietQRError, looks_like_emvco, parse

Kind = Literal["none", "vietqr", "payment_other", "payment_broken", "url", "wifi", "text", "multiple"]


@dataclass(frozen=True)
class QRVerdict:
    """`warning` is True when something about the code itself looks wrong (a fake-looking page, a damaged or
    altered payment code). The standing safety reminders (check the name before paying, no banking on public
    Wi-Fi) are in `lines` without setting it."""

    kind: Kind
    lines: list[str]
    warning: bool
    vietqr: VietQR | None = None  # the transfer, for kind "vietqr"
    domain: str | None = None  # the registrable domain, for kind "url"

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


NOTHING_READ = [
    "{Cháu} không đọc được mã trong ảnh này.",
    "{Bác} chụp lại giúp {cháu} nhé:",
    "• Chụp ở chỗ đủ sáng.",
    "• Giữ máy thẳng, cách mã 15–20 cm.",
    "• Chụp rõ cả mã, không để mất góc nào.",
]
CHECK_NAME = "⚠️ Hãy kiểm tra tên người nhận trên ứng dụng ngân hàng trước khi chuyển."
DO_NOT_OPEN = "⚠️ {Bác} đừng mở trang này. Đừng nhập mật khẩu hay mã OTP."

SHORTENERS = frozenset({
    "bit.ly", "bitly.com", "tinyurl.com", "shorturl.at", "shorturl.asia", "goo.gl", "t.ly", "cutt.ly", "rb.gy",
    "is.gd", "v.gd", "ow.ly", "tiny.cc", "t.co", "s.id", "rebrand.ly", "surl.li", "tiny.one", "buff.ly", "u.to",
    "shorten.asia", "link1s.com", "qr.io",
})
# Words that claim the state: long ones count anywhere in the name, short ones only as a whole part of it.
GOV_WORDS = frozenset({"dichvucong", "baohiem", "congan", "bocongan", "vneid", "vssid", "chinhphu", "canhsat",
                       "nhanuoc", "thuedientu", "tongcucthue", "xahoi", "hanhchinh", "govvn"})
GOV_TOKENS = frozenset({"gov", "dvc", "bhxh", "ubnd", "bca"})
_VN_SECOND_LEVEL = frozenset({"gov", "com", "net", "org", "edu", "ac", "int", "info", "biz", "name", "pro",
                              "health", "id", "io"})
# Digits and Cyrillic/Greek letters that pass for Latin ones in a web address.
_LOOKALIKES = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "а": "a", "е": "e",
                             "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "і": "i", "ј": "j", "ѕ": "s",
                             "ԁ": "d", "ո": "n", "ν": "v", "ο": "o", "α": "a", "ı": "i"})
BAIT_WORDS = ("nhận quà", "quà tặng", "trúng thưởng", "nhận thưởng", "hoàn tiền", "miễn phí")
_URL_IN_TEXT = re.compile(r"https?://\S+", re.I)
_BARE_DOMAIN = re.compile(r"^(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.([a-z]{2,})(?::\d+)?(?:[/?#]\S*)?$", re.I)
# A bare name counts as an address only with "www." or one of these endings (so "Nguyen.Van" stays text).
_BARE_ENDINGS = frozenset({"vn", "com", "net", "org", "info", "biz", "xyz", "online", "site", "top", "shop", "store",
                           "app", "link", "club", "asia", "io", "me", "ly", "gl", "cc", "co", "gd", "tk"})
_TEXT_MAX = 300


def explain(payloads: list[str]) -> QRVerdict:
    """Explain what was decoded from one photo (the output of `decode_qr`)."""
    texts = list(dict.fromkeys(unicodedata.normalize("NFC", p).strip() for p in payloads))
    texts = [t for t in texts if t]
    if not texts:
        return QRVerdict("none", list(NOTHING_READ), warning=False)
    if len(texts) == 1:
        return explain_one(texts[0])
    verdicts = [explain_one(t) for t in texts[:3]]
    lines = [f"{{Cháu}} thấy {len(texts)} mã trong ảnh."]
    for number, verdict in enumerate(verdicts, start=1):
        lines += [f"Mã thứ {number}:", *verdict.lines]
    return QRVerdict("multiple", lines, warning=any(v.warning for v in verdicts))


def explain_one(text: str) -> QRVerdict:
    text = unicodedata.normalize("NFC", text).strip()
    if looks_like_emvco(text):
        return _payment(text)
    if text[:5].upper() == "WIFI:":
        return _wifi(text)
    bare = _BARE_DOMAIN.fullmatch(text)
    bare_address = bare is not None and (text[:4].lower() == "www." or bare.group(1).lower() in _BARE_ENDINGS)
    if _URL_IN_TEXT.fullmatch(text) or bare_address:
        return _web(text, intro=[])
    found = _URL_IN_TEXT.search(text)
    if found:
        intro = [*_show_text(text), "Trong chữ có một địa chỉ trang web."]
        if any(bait in text.casefold() for bait in BAIT_WORDS):
            intro.append("⚠️ Tin hứa tặng quà, trúng thưởng kèm đường link thường là lừa đảo.")
        return _web(found.group(0), intro=intro)
    return QRVerdict("text", _show_text(text), warning=False)


def format_dong(amount: int) -> str:
    """50000 → "50.000 đ"."""
    return f"{amount:,}".replace(",", ".") + " đ"


# --- payments ----------------------------------------------------------------------------------------------------

def _payment(text: str) -> QRVerdict:
    try:
        qr = parse(text)
    except VietQRError as error:
        if error.reason in ("not_vietqr", "unknown_guid"):  # the CRC was right: a shop's code of another kind
            return QRVerdict("payment_other", [
                "Đây là mã thanh toán của cửa hàng, không phải mã chuyển khoản VietQR.",
                "{Bác} xem kỹ tên cửa hàng và số tiền trên ứng dụng trước khi trả.",
            ], warning=False)
        return QRVerdict("payment_broken", [
            "⚠️ Mã chuyển tiền này bị lỗi: các con số bên trong không khớp nhau.",
            "Mã có thể đã bị sửa hoặc bị dán đè lên mã thật.",
            "{Bác} đừng chuyển tiền theo mã này. Hãy hỏi lại người nhận tiền.",
        ], warning=True)
    bank = f"**{qr.bank}**" if qr.bank else f"mã số {qr.bin} ({{cháu}} chưa biết tên)"
    lines = ["Đây là mã chuyển tiền qua ngân hàng (VietQR).", f"Ngân hàng: {bank}",
             f"{'Số thẻ' if qr.service == 'card' else 'Số tài khoản'}: **{qr.account}**"]
    if qr.amount is not None:
        lines.append(f"Số tiền: **{format_dong(qr.amount)}**")
    else:
        lines.append("Mã chưa có số tiền: {bác} tự gõ số tiền khi chuyển.")
    if qr.message:
        lines.append(f"Nội dung: {_one_line(qr.message)}")
    lines.append(CHECK_NAME)
    return QRVerdict("vietqr", lines, warning=False, vietqr=qr)


# --- Wi-Fi -------------------------------------------------------------------------------------------------------

def wifi_fields(text: str) -> dict[str, str]:
    """The fields of "WIFI:T:WPA;S:name;P:pass;;" as {"T": "WPA", "S": "name", "P": "pass"}.

    Backslash escapes (\\; \\: \\, \\\\) are undone; the first of a repeated key wins."""
    fields: dict[str, str] = {}
    part: list[str] = []
    escaped = False
    for ch in text[5:] + ";":
        if escaped:
            part.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ";":
            key, sep, value = "".join(part).partition(":")
            if sep and key.strip():
                fields.setdefault(key.strip().upper(), value)
            part = []
        else:
            part.append(ch)
    return fields


def _wifi(text: str) -> QRVerdict:
    fields = wifi_fields(text)
    name = _one_line(fields.get("S", "")) or "(không có tên)"
    locked = bool(fields.get("P")) and fields.get("T", "").lower() != "nopass"
    return QRVerdict("wifi", [
        "Đây là mã để vào mạng Wi-Fi.",
        f"Tên mạng: **{name}**",
        "Mạng này có mật khẩu. Quét mã là máy tự vào mạng." if locked else "Mạng này không có mật khẩu.",
        "⚠️ Không dùng Wi-Fi công cộng để vào ứng dụng ngân hàng.",
    ], warning=False)


# --- text --------------------------------------------------------------------------------------------------------

def _show_text(text: str) -> list[str]:
    short = text if len(text) <= _TEXT_MAX else text[:_TEXT_MAX].rstrip() + "…"
    return ["Trong mã có dòng chữ:", f"«{_one_line(short)}»"]


def _one_line(text: str) -> str:
    """No control characters or our bold marks, spaces collapsed: safe to put inside a message."""
    visible = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(visible.replace("**", "*").split())


# --- web addresses -----------------------------------------------------------------------------------------------

def registrable_domain(host: str) -> str:
    """The part of a host name that someone registered: "a.b.dichvucong.gov.vn" → "dichvucong.gov.vn",
    "dichvucong.gov.vn.xyz.com" → "xyz.com"."""
    labels = host.strip(".").split(".")
    if len(labels) >= 3 and labels[-1] == "vn" and labels[-2] in _VN_SECOND_LEVEL:
        return ".".join(labels[-3:])
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in ("co", "com", "net", "org", "gov", "edu", "ac"):
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _web(url: str, intro: list[str]) -> QRVerdict:
    has_scheme = "://" in url
    try:
        parts = urlsplit(url if has_scheme else "http://" + url)
        host = (parts.hostname or "").strip(".")
    except ValueError:
        host = ""
    if not host:
        return QRVerdict("text", _show_text(url), warning=False)
    lines = intro or ["Đây là một địa chỉ trang web."]
    flags: list[str] = []
    baited = any(line.startswith("⚠️") for line in intro)
    ascii_host = _ascii_host(host)
    if ascii_host != host or any(label.startswith("xn--") for label in ascii_host.split(".")):
        flags.append("⚠️ Tên trang có chữ lạ, trông giống chữ thường để đánh lừa.")
    if "@" in parts.netloc:
        flags.append("⚠️ Địa chỉ có dấu @. Phần chữ trước dấu @ chỉ để đánh lừa.")
    ip = _as_ip(ascii_host)
    domain = ascii_host if ip else registrable_domain(ascii_host)
    official = not ip and (domain == "gov.vn" or domain.endswith(".gov.vn")) and not flags
    if ip:
        lines.append(f"Trang này không có tên, chỉ có dãy số: **{ascii_host}**")
        flags.append("⚠️ Trang thật của cơ quan hay ngân hàng luôn có tên, không phải dãy số.")
    else:
        lines.append(f"Trang này thuộc tên miền: **{domain}**")
    if domain in SHORTENERS:
        flags.append("⚠️ Đây là link rút gọn: không biết nó dẫn tới trang nào.")
    if not official and not ip:
        flags += _claims(host)
    if has_scheme and parts.scheme.lower() == "http":
        flags.append("⚠️ Địa chỉ bắt đầu bằng http, thiếu chữ s: trang không được bảo vệ.")
    if official:
        lines.append("✅ Đây là trang của cơ quan nhà nước (có đuôi .gov.vn).")
    lines += flags
    warning = bool(flags) or baited
    if warning and not official:
        lines.append(DO_NOT_OPEN)
    elif not warning and not official:
        lines.append("{Bác} chỉ mở trang này khi biết rõ trang đó là của ai.")
    return QRVerdict("url", lines, warning=warning, domain=domain)


def _claims(host: str) -> list[str]:
    """Warnings for a name that borrows the words of the state or of a bank."""
    plain = host.lower().translate(_LOOKALIKES)
    squashed = re.sub(r"[.\-_]", "", plain)
    tokens = set(re.split(r"[.\-_]", plain))
    found: list[str] = []
    if any(word in squashed for word in GOV_WORDS) or tokens & GOV_TOKENS:
        found += ["⚠️ Tên trang giống trang nhà nước, nhưng không có đuôi .gov.vn.",
                  "Trang nhà nước thật luôn có đuôi .gov.vn. Đây có thể là trang giả để lừa."]
    if any(word in squashed for word in BANK_WORDS):
        found.append("⚠️ Tên trang có tên ngân hàng. Chỉ vào ngân hàng bằng ứng dụng của ngân hàng, "
                     "không qua đường link.")
    return found


def _ascii_host(host: str) -> str:
    if host.isascii():
        return host.lower()
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host.encode("ascii", "backslashreplace").decode("ascii").lower()


def _as_ip(host: str) -> bool:
    if host.isdigit() or re.fullmatch(r"0x[0-9a-f]+", host):  # 3232235777 and 0xc0a80101 are addresses too
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
