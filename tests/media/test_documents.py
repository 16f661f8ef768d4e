"""The poster and the certificate: Vietnamese text survives in the PDF, and every QR code in them reads back."""

from __future__ import annotations

import datetime
import io
import pathlib
import re
import shutil
import subprocess
import unicodedata

import pytest
from PIL import Image
from pypdf import PdfReader

from bot.media.certificate import make_certificate, new_verification_code, normalize_verification_code
from bot.media.fonts import font_path
from bot.media.poster import make_poster_pdf
from bot.media.qr import decode_qr
from tests.media.images import png_bytes

TELEGRAM = "https://t.me/TroLySoBachNgocBot?start=xom-3"
ZALO = "https://zalo.me/s/1234567890123456789/?ref=xom-3"
PDFTOPPM = shutil.which("pdftoppm")


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


def pdf_codes(pdf: bytes) -> list[str]:
    """Decode every image embedded in the PDF's page."""
    found: list[str] = []
    for embedded in PdfReader(io.BytesIO(pdf)).pages[0].images:
        assert embedded.image is not None
        found += decode_qr(png_bytes(embedded.image))
    return found


def rendered_codes(pdf: bytes, tmp_path: pathlib.Path, dpi: int = 100) -> list[str]:
    """Decode the page as a viewer or a printer draws it."""
    assert PDFTOPPM
    (tmp_path / "page.pdf").write_bytes(pdf)
    subprocess.run([PDFTOPPM, "-r", str(dpi), "-png", "-singlefile", str(tmp_path / "page.pdf"),
                    str(tmp_path / "page")], check=True, timeout=60)
    return decode_qr((tmp_path / "page.png").read_bytes())


def test_the_font_ships_with_an_installed_package() -> None:
    for weight in ("regular", "bold"):  # a Literal each
        path = font_path(weight)
        assert path.is_file() and path.suffix == ".ttf"
        assert "site-packages" in path.parts or "dist-packages" in path.parts


# --- poster ------------------------------------------------------------------------------------------------------

def test_poster_text_is_vietnamese_intact() -> None:
    text = pdf_text(make_poster_pdf(commune="Xã Bạch Ngọc", hamlet="Xóm 3", telegram_link=TELEGRAM, zalo_link=ZALO))
    assert text == unicodedata.normalize("NFC", text)
    for needed in ("Trợ lý số – Bình dân học vụ số", "Bình dân học vụ số", "Xã Bạch Ngọc", "Xóm 3", "Zalo",
                   "Quét mã QR và chuyển khoản an toàn", "VNeID", "Telegram"):
        assert needed in text, needed


def test_poster_accepts_decomposed_names() -> None:
    text = pdf_text(make_poster_pdf(commune=unicodedata.normalize("NFD", "Xã Bạch Ngọc"), hamlet="Thôn Đông",
                                    telegram_link=TELEGRAM, zalo_link=None))
    assert "Xã Bạch Ngọc" in text and "Thôn Đông" in text


def test_poster_codes_hold_the_links() -> None:
    both = make_poster_pdf(commune="Xã Bạch Ngọc", hamlet="Xóm 3", telegram_link=TELEGRAM, zalo_link=ZALO)
    assert pdf_codes(both) == [TELEGRAM, ZALO]
    only_zalo = make_poster_pdf(commune="Xã Bạch Ngọc", hamlet="Xóm 3", telegram_link=None, zalo_link=ZALO)
    assert pdf_codes(only_zalo) == [ZALO]
    assert "Telegram" not in pdf_text(only_zalo)


@pytest.mark.skipif(PDFTOPPM is None, reason="pdftoppm (poppler-utils) is not installed")
def test_poster_codes_read_from_the_rendered_page(tmp_path: pathlib.Path) -> None:
    pdf = make_poster_pdf(commune="Xã Bạch Ngọc", hamlet="Xóm 3", telegram_link=TELEGRAM, zalo_link=ZALO)
    assert sorted(rendered_codes(pdf, tmp_path, dpi=60)) == sorted([TELEGRAM, ZALO])


def test_poster_needs_a_link() -> None:
    with pytest.raises(ValueError):
        make_poster_pdf(commune="Xã Bạch Ngọc", hamlet="Xóm 3", telegram_link=None, zalo_link="")


# --- certificate -------------------------------------------------------------------------------------------------

CODE = "K7QF-9MXA-2D4R-TT8C-0HNB"


def certificate(**changes: object) -> tuple[bytes, bytes]:
    fields: dict[str, object] = {"name": "Nguyễn Thị Hoà", "track": "Quét mã QR và chuyển khoản an toàn",
                                 "date": datetime.date(2026, 12, 5), "commune": "Xã Bạch Ngọc",
                                 "verify_url_or_code": CODE}
    fields.update(changes)
    return make_certificate(**fields)  # type: ignore[arg-type]


def test_certificate_pdf_text_is_vietnamese_intact() -> None:
    _, pdf = certificate()
    text = pdf_text(pdf)
    assert text == unicodedata.normalize("NFC", text)
    for needed in ("GIẤY CHỨNG NHẬN", "Nguyễn Thị Hoà", "đã hoàn thành chủ đề «Quét mã QR và chuyển khoản an toàn»",
                   "05/12/2026", "Xã Bạch Ngọc", CODE):
        assert needed in text, needed


def test_certificate_png_is_a_landscape_page_whose_code_reads_back() -> None:
    png, _ = certificate()
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG" and picture.width > picture.height >= 1000
    assert decode_qr(png) == [CODE]


def test_certificate_pdf_code_reads_back() -> None:
    url = "https://trolyso.example.vn/giay-chung-nhan/K7QF9MXA2D4RTT8C0HNB"
    png, pdf = certificate(verify_url_or_code=url)
    assert pdf_codes(pdf) == [url]
    assert decode_qr(png) == [url]


@pytest.mark.skipif(PDFTOPPM is None, reason="pdftoppm (poppler-utils) is not installed")
def test_certificate_code_reads_from_the_rendered_page(tmp_path: pathlib.Path) -> None:
    _, pdf = certificate()
    assert rendered_codes(pdf, tmp_path) == [CODE]


def test_a_very_long_name_still_fits() -> None:
    long_name = "Tôn Nữ Hoàng Thị Phương Thảo Nguyễn Ngọc Bích Hạnh Diệu Linh"
    png, pdf = certificate(name=long_name)
    assert long_name in pdf_text(pdf)
    assert decode_qr(png) == [CODE]


def test_a_very_long_track_is_shortened_inside_its_quotes() -> None:
    track = "Dịch vụ công trực tuyến với VNeID và cổng dịch vụ công quốc gia cho người cao tuổi ở nông thôn"
    text = pdf_text(certificate(track=track)[1])
    shown = re.search(r"đã hoàn thành chủ đề «(.+?)…»", text)
    assert shown and track.startswith(shown.group(1))


def test_verification_codes_are_random_typable_and_long_enough() -> None:
    codes = {new_verification_code() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){4}[0-9A-HJKMNP-TV-Z]{4}", code), code
        assert len(code.replace("-", "")) * 5 >= 96
        assert normalize_verification_code(code.lower().replace("-", " ")) == code
    assert normalize_verification_code("K7QF 9MXA 2D4R TT8C OHNB") == CODE  # O typed for 0
    assert normalize_verification_code("K7QF-9MXA") is None
    assert normalize_verification_code("K7QF-9MXA-2D4R-TT8C-0HNU") is None  # U is not in the alphabet
