"""QR challenge and practice-payment steps: the picture decodes to what the step checks."""

from __future__ import annotations

import pathlib

import pytest

from bot.media import qr, vietqr
from handlers.practice import amount_matches
from tests.harness import Chat, start_app


async def open_qr_lesson(chat: Chat) -> None:
    await chat.onboard()
    await chat.choose("lesson:bai-qr")
    assert "Bước 1/2" in chat.text


@pytest.mark.parametrize("account", ["", "970405:1234567890:UBND XA BACH NGOC"])
async def test_qr_challenge_then_practice_payment(tmp_path: pathlib.Path, account: str) -> None:
    app, recorder = await start_app(tmp_path / "bot.db", practice_account=account)
    chat = Chat(app, recorder)
    try:
        await open_qr_lesson(chat)
        image = chat.last[-1].image
        assert image is not None
        [word] = qr.decode_qr(image)
        await chat.say("sai-00")
        assert "Chưa đúng" in chat.text
        await chat.say(f"  {word.upper()} ")  # typed loosely
        assert "Đúng rồi" in chat.text and "Bước 2/2" in chat.text
        picture = chat.last[-1].image
        assert picture is not None
        if account:
            assert "KHÔNG bấm xác nhận" in chat.text
            [payload] = qr.decode_qr(picture)
            code = vietqr.parse(payload)
            assert (code.bin, code.account, code.amount) == ("970405", "1234567890", 20000)
        else:
            assert "màn hình mẫu" in chat.text and qr.decode_qr(picture) == []
        await chat.say("2.000")
        assert "Chưa đúng" in chat.text
        await chat.say("20.000 đ")
        assert "Đúng rồi" in chat.text and "Câu 1/1" in chat.text
    finally:
        await app.close()


def test_amounts_typed_many_ways() -> None:
    for typed in ("20000", "20.000", "20.000 đ", "20,000 VND", "20 nghìn", "20 ngan", "20k", "20000đ"):
        assert amount_matches(typed, 20000), typed
    for typed in ("2000", "200000", "20 triệu", "", "abc"):
        assert not amount_matches(typed, 20000), typed


async def test_a_bad_practice_account_stops_start_up(tmp_path: pathlib.Path) -> None:
    from bot.settings import ConfigError

    with pytest.raises(ConfigError, match="HOCVUSO_PRACTICE_ACCOUNT"):
        await start_app(tmp_path / "bot.db", practice_account="970405:abc")
