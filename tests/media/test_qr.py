from __future__ import annotations

import asyncio
import io
import random
import re
import time

import pytest
from PIL import Image

from bot.media.qr import WORDS, QRDecodeError, decode_qr, decode_qr_async, make_qr_png, one_time_word
from tests.media.images import no_code_photo, photo_of, png_bytes, png_claiming


@pytest.mark.parametrize("text", [
    "https://t.me/TroLySoBot?start=xom-3",
    "Xin chào bà con xóm Bạch Ngọc: ắ ệ ữ Đ",
    "K7QF-9MXA-2D4R-TT8C-0HNB",
])
def test_made_codes_decode_to_exactly_the_text(text: str) -> None:
    assert decode_qr(make_qr_png(text)) == [text]


def test_a_code_is_a_big_black_and_white_png() -> None:
    picture = Image.open(io.BytesIO(make_qr_png("lua-47")))
    assert picture.format == "PNG"
    assert picture.width == picture.height >= 290  # 21 modules + 8 of quiet zone, 10 px each
    assert {shade for _, shade in picture.convert("L").getcolors() or []} == {0, 255}


def test_empty_text_is_refused() -> None:
    with pytest.raises(ValueError):
        make_qr_png("")


def test_one_time_words_are_short_plain_and_varied() -> None:
    words = [one_time_word() for _ in range(300)]
    for word in words:
        assert re.fullmatch(r"[a-z]{2,6}-\d\d", word), word
    assert len(set(words)) > 250
    assert len(WORDS) == len(set(WORDS)) >= 150
    assert not {"buoi", "lon", "cac", "dit", "deo", "du", "cu", "chim", "dai", "cut", "di"} & set(WORDS)


def test_one_time_word_takes_a_seeded_rng_and_survives_a_qr_photo() -> None:
    word = one_time_word(random.Random(7))
    assert word == one_time_word(random.Random(7))
    assert decode_qr(photo_of(make_qr_png(word), angle=9, scale=0.7, seed=2)) == [word]


def test_a_picture_without_a_code_gives_nothing() -> None:
    assert decode_qr(no_code_photo()) == []


def test_hard_photo_needs_the_fallback_attempts_and_still_reads() -> None:
    text = "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html"
    assert decode_qr(photo_of(make_qr_png(text), angle=12, scale=0.7, noise=45, blur=3.5, seed=7)) == [text]


@pytest.mark.parametrize("data", [b"", b"hello, not a picture", b"\x89PNG\r\n\x1a\n garbage", b"%PDF-1.7\n"])
def test_non_images_are_refused_with_a_reason(data: bytes) -> None:
    with pytest.raises(QRDecodeError) as caught:
        decode_qr(data)
    assert caught.value.reason == "not_an_image"


@pytest.mark.parametrize("size", [(30_000, 30_000), (9_000, 9_000), (6_000, 4_001)])
def test_a_header_claiming_a_huge_image_is_refused_before_decoding(size: tuple[int, int]) -> None:
    bomb = png_claiming(*size)  # up to 900 megapixels in 100 bytes; Pillow itself objects only above 179
    assert len(bomb) < 200
    started = time.monotonic()
    with pytest.raises(QRDecodeError) as caught:
        decode_qr(bomb)
    assert caught.value.reason == "too_large"
    assert time.monotonic() - started < 0.5


def test_pixel_and_byte_caps_are_configurable() -> None:
    picture = make_qr_png("lua-47")
    with pytest.raises(QRDecodeError) as by_pixels:
        decode_qr(picture, max_pixels=10_000)
    with pytest.raises(QRDecodeError) as by_bytes:
        decode_qr(picture, max_bytes=100)
    assert by_pixels.value.reason == by_bytes.value.reason == "too_large"
    big_but_allowed = png_bytes(Image.new("L", (5000, 4000), 255))
    assert decode_qr(big_but_allowed) == []


def test_a_spent_time_budget_is_a_timeout() -> None:
    with pytest.raises(QRDecodeError) as caught:
        decode_qr(no_code_photo(), timeout=0)
    assert caught.value.reason == "timeout"


async def test_async_decode_reads_off_the_event_loop() -> None:
    text = "https://dichvucong.gov.vn"
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    beat = asyncio.create_task(ticker())
    try:
        found = await decode_qr_async(photo_of(make_qr_png(text), seed=4, blur=3.5, noise=45, scale=0.7))
    finally:
        beat.cancel()
    assert found == [text]
    assert ticks > 1  # the loop kept running while the photo was read


async def test_async_decode_has_a_wall_clock_cap_and_frees_its_slot() -> None:
    with pytest.raises(QRDecodeError) as caught:
        await decode_qr_async(no_code_photo(), timeout=0.001)
    assert caught.value.reason == "timeout"
    await asyncio.sleep(1)  # the abandoned worker stops at its deadline and gives its slot back
    results = await asyncio.gather(*(decode_qr_async(make_qr_png(f"ca-{n:02d}")) for n in range(4)))
    assert results == [[f"ca-{n:02d}"] for n in range(4)]


async def test_async_errors_carry_the_same_reasons() -> None:
    with pytest.raises(QRDecodeError) as caught:
        await decode_qr_async(png_claiming(20_000, 20_000))
    assert caught.value.reason == "too_large"
