"""The A4 poster for the commune notice board: what Trợ lý số teaches, and big QR codes to start a chat with it."""

from __future__ import annotations

import io
import unicodedata
from typing import TYPE_CHECKING

from bot.media.fonts import FAMILY, new_pdf
from bot.media.qr import make_qr_png

if TYPE_CHECKING:  # fpdf is imported where a poster is drawn, not at start-up
    from fpdf import FPDF

TITLE = "Trợ lý số – Bình dân học vụ số"
TEACHES = (
    "Dùng Zalo an toàn",
    "Quét mã QR và chuyển khoản an toàn",
    "Làm dịch vụ công với VNeID",
)
HOW_TO_SCAN = "Cách quét: mở Zalo, bấm biểu tượng mã QR ở thanh tìm kiếm, rồi đưa camera vào mã."
ASK_FOR_HELP = "Cần giúp đỡ? Hãy hỏi Tổ công nghệ số cộng đồng ở thôn, xóm mình."

_PAGE_W, _PAGE_H = 210.0, 297.0
_GREEN = (27, 94, 32)
_DARK = (33, 33, 33)
_GREY = (90, 90, 90)


def make_poster_pdf(*, commune: str, hamlet: str, telegram_link: str | None, zalo_link: str | None) -> bytes:
    """One A4 page in Vietnamese, with one QR code per given link (at least one is needed).

    `commune` and `hamlet` are printed as given, e.g. "Xã Bạch Ngọc" and "Xóm 3".
    """
    links = [(label, link) for label, link in (("Telegram", telegram_link), ("Zalo", zalo_link)) if link]
    if not links:
        raise ValueError("the poster needs a Telegram link, a Zalo link, or both")
    commune, hamlet = _nfc(commune), _nfc(hamlet)
    pdf = new_pdf("portrait", title=f"{TITLE} – {commune}")
    pdf.add_page()

    pdf.set_fill_color(*_GREEN)
    pdf.rect(0, 0, _PAGE_W, 34, style="F")
    pdf.set_text_color(255, 255, 255)
    _centred(pdf, TITLE, y=11, size=24, bold=True)

    pdf.set_text_color(*_DARK)
    _centred(pdf, commune, y=46, size=30, bold=True)
    _centred(pdf, hamlet, y=62, size=24)

    pdf.set_text_color(*_GREEN)
    _centred(pdf, "Học từng bước, ngay trên điện thoại của mình:", y=80, size=16, bold=True)
    pdf.set_text_color(*_DARK)
    _bullets(pdf, TEACHES, y=92, size=17)

    _draw_codes(pdf, links, top=128)

    pdf.set_text_color(*_GREY)
    _wrapped(pdf, HOW_TO_SCAN, y=256, size=13, width=170)
    _wrapped(pdf, ASK_FOR_HELP, y=274, size=13, width=170)
    return bytes(pdf.output())


def _draw_codes(pdf: FPDF, links: list[tuple[str, str]], *, top: float) -> None:
    """One big code in the middle, or two side by side; the label above each and the link text below."""
    from fpdf.enums import WrapMode

    pdf.set_text_color(*_GREEN)
    _centred(pdf, "Quét mã để bắt đầu học", y=top, size=18, bold=True)
    side = 90.0 if len(links) == 1 else 80.0
    gap = 14.0
    total = len(links) * side + (len(links) - 1) * gap
    for index, (label, link) in enumerate(links):
        left = (_PAGE_W - total) / 2 + index * (side + gap)
        pdf.set_text_color(*_DARK)
        pdf.set_font(FAMILY, "B", 18)
        pdf.set_xy(left, top + 10)
        pdf.cell(side, 9, label, align="C")
        pdf.image(io.BytesIO(make_qr_png(link)), x=left, y=top + 19, w=side, h=side, alt_text=f"QR {label}")
        pdf.set_text_color(*_GREY)
        pdf.set_font(FAMILY, "", 11)
        pdf.set_xy(left - 5, top + 20 + side)
        pdf.multi_cell(side + 10, 5, link, align="C", wrapmode=WrapMode.CHAR)


def _centred(pdf: FPDF, text: str, *, y: float, size: float, bold: bool = False) -> None:
    """One line across the page, shrunk until it fits between 15 mm margins."""
    from fpdf.enums import XPos, YPos

    style = "B" if bold else ""
    pdf.set_font(FAMILY, style, size)
    while size > 8 and pdf.get_string_width(text) > _PAGE_W - 30:
        size -= 1
        pdf.set_font(FAMILY, style, size)
    pdf.set_xy(0, y)
    pdf.cell(_PAGE_W, size * 0.5, text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _bullets(pdf: FPDF, lines: tuple[str, ...], *, y: float, size: float) -> None:
    """Left-aligned lines with a bullet, the block centred on the page."""
    pdf.set_font(FAMILY, "", size)
    items = [f"•  {line}" for line in lines]
    left = (_PAGE_W - max(pdf.get_string_width(item) for item in items)) / 2
    for row, item in enumerate(items):
        pdf.set_xy(left, y + row * size * 0.6)
        pdf.cell(text=item)


def _wrapped(pdf: FPDF, text: str, *, y: float, size: float, width: float) -> None:
    pdf.set_font(FAMILY, "", size)
    pdf.set_xy((_PAGE_W - width) / 2, y)
    pdf.multi_cell(width, size * 0.5, text, align="C")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()
