"""The certificate (giấy chứng nhận) for finishing a track, as a PNG for the chat and a PDF for printing.

Both come from one layout in millimetres on a landscape A4 page, drawn once with Pillow and once with fpdf2 in the
same bundled font. A QR code holds the verification string; `new_verification_code` makes one that is unguessable
and still easy to type.
"""

from __future__ import annotations

import datetime
import functools
import io
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.media.fonts import FAMILY, Weight, font_path, new_pdf
from bot.media.qr import make_qr_png

if TYPE_CHECKING:  # Pillow and fpdf are imported where a certificate is drawn, not at start-up
    from fpdf import FPDF
    from PIL import ImageFont

HEADING = "GIẤY CHỨNG NHẬN"
BANNER = "Trợ lý số – Bình dân học vụ số"
NOTE = "Giấy này ghi nhận việc học cùng Trợ lý số. Không thay cho xác nhận kỹ năng số trên VNeID."

_W, _H = 297.0, 210.0  # mm, landscape A4
_PX_PER_MM = 1754 / _W  # 150 dpi
_PT_TO_MM = 25.4 / 72
_TEXT_MAX_W = 230.0
_GREEN = (27, 94, 32)
_RED = (183, 28, 28)
_DARK = (33, 33, 33)
_GREY = (100, 100, 100)
_QR_SIDE, _QR_X, _QR_Y = 38.0, _W - 22.0 - 38.0, _H - 22.0 - 38.0 - 10.0

# Crockford's base32: no I, L, O or U, so nothing is mistaken for 1, 0 or V.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_CHARS = 20  # 100 bits
_CODE = re.compile(rf"^[{_ALPHABET}]{{{_CODE_CHARS}}}$")


@dataclass(frozen=True)
class _Line:
    text: str
    y: float  # mm from the top to the top of the text
    size: float  # points
    bold: bool
    colour: tuple[int, int, int]


def new_verification_code() -> str:
    """100 random bits as 5 groups of 4 characters, e.g. "K7QF-9MXA-2D4R-TT8C-0HNB" (URL-safe, easy to type)."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_CHARS))
    return "-".join(chars[i:i + 4] for i in range(0, _CODE_CHARS, 4))


def normalize_verification_code(typed: str) -> str | None:
    """A typed code in its canonical form (upper case, O → 0, I/L → 1, spaces and dashes ignored), or None."""
    squashed = re.sub(r"[\s\-]", "", typed.upper()).translate(str.maketrans("OIL", "011"))
    if not _CODE.match(squashed):
        return None
    return "-".join(squashed[i:i + 4] for i in range(0, _CODE_CHARS, 4))


def make_certificate(*, name: str, track: str, date: datetime.date, commune: str,
                     verify_url_or_code: str) -> tuple[bytes, bytes]:
    """(PNG, PDF) of one certificate. `commune` is printed as given ("Xã Bạch Ngọc"); the date as dd/mm/yyyy."""
    if not verify_url_or_code:
        raise ValueError("a certificate needs its verification string")
    name, track, commune = _nfc(name), _nfc(track), _nfc(commune)
    lines = [
        _Line(BANNER, 24, 15, True, _GREEN),
        _Line(HEADING, 38, 40, True, _RED),
        _Line("Chứng nhận", 66, 16, False, _DARK),
        _fitted("{}", name, 78, 32, True, _DARK),
        _fitted("đã hoàn thành chủ đề «{}»", track, 100, 20, False, _DARK),
        _Line(f"{commune}, ngày {date:%d/%m/%Y}", 120, 15, False, _DARK),
    ]
    caption = ["Quét mã để kiểm tra", verify_url_or_code if len(verify_url_or_code) <= 32 else ""]
    qr_png = make_qr_png(verify_url_or_code, box=8)
    return _png(lines, qr_png, caption), _pdf(lines, qr_png, caption, title=f"{HEADING} – {name}")


def _fitted(template: str, value: str, y: float, size: float, bold: bool, colour: tuple[int, int, int]) -> _Line:
    """`template` filled with `value`, at the largest size up to `size` that fits the text width; below 12 pt the
    value is shortened with "…" (the template's own words stay)."""
    text = template.format(value)
    while size > 12 and _width_mm(text, size, bold) > _TEXT_MAX_W:
        size -= 1
        text = template.format(value)
    while _width_mm(text, size, bold) > _TEXT_MAX_W and len(value) > 1:
        value = value[:-1]
        text = template.format(value.rstrip() + "…")
    return _Line(text, y, size, bold, colour)


def _width_mm(text: str, size: float, bold: bool) -> float:
    return _font("bold" if bold else "regular", 200).getlength(text) / 200 * size * _PT_TO_MM


@functools.cache
def _font(weight: Weight, pixels: int) -> ImageFont.FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path(weight)), pixels)


def _px(mm: float) -> int:
    return round(mm * _PX_PER_MM)


def _png(lines: list[_Line], qr_png: bytes, caption: list[str]) -> bytes:
    from PIL import Image, ImageDraw

    page = Image.new("RGB", (_px(_W), _px(_H)), "white")
    draw = ImageDraw.Draw(page)
    draw.rectangle((_px(8), _px(8), _px(_W - 8), _px(_H - 8)), outline=_GREEN, width=_px(1.6))
    draw.rectangle((_px(11), _px(11), _px(_W - 11), _px(_H - 11)), outline=_GREEN, width=max(1, _px(0.4)))
    for line in lines:
        font = _font("bold" if line.bold else "regular", _px(line.size * _PT_TO_MM))
        draw.text((_px(_W / 2), _px(line.y)), line.text, fill=line.colour, font=font, anchor="ma")
    side = _px(_QR_SIDE)
    code = Image.open(io.BytesIO(qr_png)).convert("RGB").resize((side, side), Image.Resampling.NEAREST)
    page.paste(code, (_px(_QR_X), _px(_QR_Y)))
    small = _font("regular", _px(9 * _PT_TO_MM))
    for row, text in enumerate(t for t in caption if t):
        draw.text((_px(_QR_X + _QR_SIDE / 2), _px(_QR_Y + _QR_SIDE + 1 + row * 4.5)), text, fill=_GREY, font=small,
                  anchor="ma")
    draw.text((_px(24), _px(_H - 24)), NOTE, fill=_GREY, font=small, anchor="ls")
    out = io.BytesIO()
    page.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _pdf(lines: list[_Line], qr_png: bytes, caption: list[str], *, title: str) -> bytes:
    pdf = new_pdf("landscape", title=title)
    pdf.add_page()
    pdf.set_draw_color(*_GREEN)
    pdf.set_line_width(1.6)
    pdf.rect(8, 8, _W - 16, _H - 16)
    pdf.set_line_width(0.4)
    pdf.rect(11, 11, _W - 22, _H - 22)
    for line in lines:
        _pdf_text(pdf, line.text, x=0, y=line.y, w=_W, size=line.size, bold=line.bold, colour=line.colour)
    pdf.image(io.BytesIO(qr_png), x=_QR_X, y=_QR_Y, w=_QR_SIDE, h=_QR_SIDE, alt_text="QR")
    for row, text in enumerate(t for t in caption if t):
        _pdf_text(pdf, text, x=_QR_X - 10, y=_QR_Y + _QR_SIDE + 1 + row * 4.5, w=_QR_SIDE + 20, size=9, bold=False,
                  colour=_GREY)
    pdf.set_font(FAMILY, "", 9)
    pdf.set_text_color(*_GREY)
    pdf.set_xy(24, _H - 24 - 9 * _PT_TO_MM)
    pdf.cell(text=NOTE)
    return bytes(pdf.output())


def _pdf_text(pdf: FPDF, text: str, *, x: float, y: float, w: float, size: float, bold: bool,
              colour: tuple[int, int, int]) -> None:
    pdf.set_font(FAMILY, "B" if bold else "", size)
    pdf.set_text_color(*colour)
    pdf.set_xy(x, y)
    pdf.cell(w, size * _PT_TO_MM, text, align="C")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()
