"""QR codes: draw one as a PNG, read the QR codes in a photo, and make the one-time word of the scan challenge.

Reading is guarded: the image size is checked from its header before any pixel is decoded (Pillow opens lazily),
at most two decodes run at once, and every decode has a time budget. Every failure is a `QRDecodeError` with a
short reason, never a crash.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import threading
import time
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:  # qrcode, zxing-cpp and Pillow are imported where a code is drawn or read, not at start-up
    import zxingcpp
    from PIL import Image

DecodeProblem = Literal["too_large", "not_an_image", "timeout"]

MAX_PIXELS = 24_000_000  # a 6000 × 4000 photo; Telegram and Zalo send far smaller ones
MAX_BYTES = 20 * 1024 * 1024
DEFAULT_TIMEOUT = 10.0  # seconds of wall clock for one photo
_WORK_SIDE = 2400  # JPEGs are decoded straight at about this size (DCT scaling), which is cheap
_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")  # what phones and chat apps send; nothing exotic is parsed
_SLOTS = threading.BoundedSemaphore(2)  # decodes running at once, across every event loop and thread


class QRDecodeError(Exception):
    """Reading a photo failed: `reason` is "too_large", "not_an_image" or "timeout"."""

    def __init__(self, reason: DecodeProblem) -> None:
        super().__init__(reason)
        self.reason: DecodeProblem = reason


def make_qr_png(text: str, *, box: int = 10, border: int = 4) -> bytes:
    """A black-on-white QR code (error correction M) as PNG bytes.

    `box` pixels per module: with 10, a short link is about 330 px and a VietQR payload about 490 px wide, easy to
    scan from another phone's screen. `border` is the quiet zone in modules (4 is what the standard asks).
    """
    if not text:
        raise ValueError("a QR code needs some text")
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box, border=border)
    code.add_data(text)
    code.make(fit=True)
    picture: Image.Image = code.make_image(fill_color="black", back_color="white").get_image()
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


def decode_qr(image: bytes, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES,
              timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """The texts of the QR codes found in a photo (NFC, in reading order, without repeats); [] when none is found.

    Raises QRDecodeError: "too_large" (over `max_bytes`, or over `max_pixels` by the header, before decoding),
    "not_an_image", or "timeout" (no free slot, or the `timeout` budget ran out between attempts).
    Blocking: from async code use `decode_qr_async`.
    """
    return _decode_in_slot(image, max_pixels, max_bytes, time.monotonic() + timeout)


async def decode_qr_async(image: bytes, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES,
                          timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - it also stops the worker thread
                          ) -> list[str]:
    """`decode_qr` in a worker thread, capped at `timeout` seconds of wall clock ("timeout" past it).

    The thread itself stops trying at the same deadline, so an abandoned decode does not run on for long.
    """
    deadline = time.monotonic() + timeout
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_decode_in_slot, image, max_pixels, max_bytes, deadline), timeout)
    except TimeoutError:
        raise QRDecodeError("timeout") from None


def _decode_in_slot(image: bytes, max_pixels: int, max_bytes: int, deadline: float) -> list[str]:
    if len(image) > max_bytes:
        raise QRDecodeError("too_large")
    if not _SLOTS.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise QRDecodeError("timeout")
    try:
        return _decode(image, max_pixels, deadline)
    finally:
        _SLOTS.release()


def _decode(image: bytes, max_pixels: int, deadline: float) -> list[str]:
    import zxingcpp

    qr_only = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    gray = _open_gray(image, max_pixels)
    found: list[str] = []
    for attempt in _attempts(gray):
        if time.monotonic() > deadline:
            raise QRDecodeError("timeout")
        picture, binarizer = attempt()
        for barcode in zxingcpp.read_barcodes(picture, formats=qr_only, binarizer=binarizer):
            text = unicodedata.normalize("NFC", barcode.text)
            if text and text not in found:
                found.append(text)
        if found:
            break
    return found


def _open_gray(image: bytes, max_pixels: int) -> Image.Image:
    """The photo as 8-bit grayscale; its size is checked from the header before any pixel is decoded."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(image), formats=_FORMATS) as opened:
            width, height = opened.size
            if width * height > max_pixels:
                raise QRDecodeError("too_large")
            scale = max(width, height) / _WORK_SIDE
            if scale > 1:
                opened.draft("L", (int(width / scale), int(height / scale)))
            return opened.convert("L")
    except QRDecodeError:
        raise
    except Image.DecompressionBombError:
        raise QRDecodeError("too_large") from None
    except Exception:  # Pillow raises many kinds on garbage: UnidentifiedImageError, OSError, SyntaxError, …
        raise QRDecodeError("not_an_image") from None


class _Attempt(Protocol):
    def __call__(self) -> tuple[Image.Image, zxingcpp.Binarizer]: ...


def _attempts(gray: Image.Image) -> list[_Attempt]:
    """Cheapest first; the later ones help with blur, noise and small codes (sharpened, enlarged)."""
    import zxingcpp
    from PIL import Image, ImageFilter

    local, histogram = zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram

    def plain() -> tuple[Image.Image, zxingcpp.Binarizer]:
        return gray, local

    def global_threshold() -> tuple[Image.Image, zxingcpp.Binarizer]:
        return gray, histogram

    def sharpened() -> tuple[Image.Image, zxingcpp.Binarizer]:
        return gray.filter(ImageFilter.UnsharpMask(3, 200, 2)), local

    def smoothed() -> tuple[Image.Image, zxingcpp.Binarizer]:
        return gray.filter(ImageFilter.MedianFilter(3)), local

    def enlarged() -> tuple[Image.Image, zxingcpp.Binarizer]:
        big = gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.BICUBIC)
        return big.filter(ImageFilter.UnsharpMask(4, 250, 2)), local

    steps: list[_Attempt] = [plain, global_threshold, sharpened, smoothed]
    if max(gray.size) <= 1600:
        steps.append(enlarged)
    return steps


# --- the one-time word -------------------------------------------------------------------------------------------

# Plain Vietnamese words without their diacritics: fruit, plants, animals, things at home, food, nature, colours.
# Words that read as rude once the marks are gone (as "buoi" or "lon" can) are left out on purpose.
WORDS: tuple[str, ...] = (
    "cam", "quyt", "xoai", "mit", "dua", "nhan", "vai", "tao", "le", "man", "dao", "na", "oi", "chanh", "chuoi",
    "hong", "sung", "khe", "coc", "sau", "mo", "me", "nho", "dau", "luu", "thi", "gac", "bo", "rau", "cai", "muong",
    "bi", "bau", "muop", "lac", "vung", "ngo", "khoai", "sen", "gung", "toi", "hanh", "ot", "ca", "mang", "nam",
    "mui", "rieng", "nghe", "sa", "que", "hoi", "ga", "vit", "ngan", "tom", "cua", "oc", "ech", "tho", "meo", "ngua",
    "de", "cuu", "huou", "voi", "ong", "buom", "ve", "cong", "co", "seu", "tam", "nui", "song", "suoi", "ao", "ho",
    "bien", "dong", "ruong", "nuoc", "mua", "gio", "nang", "trang", "sao", "may", "la", "cay", "hoa", "tre", "rom",
    "go", "da", "cat", "dat", "troi", "bang", "lua", "thong", "lau", "nha", "san", "bep", "noi", "chen", "bat", "dia",
    "ban", "ghe", "giuong", "den", "quat", "xe", "thuyen", "cau", "duong", "lang", "xom", "giay", "but", "muc",
    "sach", "vo", "thuoc", "keo", "non", "mu", "khan", "dep", "guong", "luoc", "chieu", "goi", "rem", "thung", "ro",
    "chum", "am", "ly", "com", "chao", "pho", "banh", "xoi", "che", "sua", "tra", "mat", "muoi", "trung", "bun",
    "mien", "nem", "cha", "canh", "kem", "vang", "xanh", "do", "tim", "nau", "xam", "xuan", "ha", "thu", "sang",
    "trua", "tet", "ram", "vui", "khoe", "hien", "ngoan", "xinh", "thom", "ngon", "ngot", "cao", "to", "dan",
    "trong", "chuong", "dieu", "bong", "tranh", "thoi", "kim", "chi", "len", "lan", "phao", "cuc", "mai", "mam", "nia",
)


class _Chooser(Protocol):
    def choice(self, seq: Sequence[str], /) -> str: ...


def one_time_word(rng: _Chooser = secrets) -> str:
    """A short word to type back after scanning, such as "lua-47": a plain word, a hyphen, two digits.

    About 20,000 possibilities: plenty for a practice challenge, and easy to type on a phone keyboard.
    """
    digits = "0123456789"
    return f"{rng.choice(WORDS)}-{rng.choice(digits)}{rng.choice(digits)}"

