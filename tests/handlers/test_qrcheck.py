""""Kiểm tra mã QR" through the bot: a photo in, a plain-Vietnamese explanation out."""

from __future__ import annotations

import pytest

from bot.media import qr, vietqr
from bot.messages import Inbound, InboundKind
from tests.harness import Chat
from tests.media.images import no_code_photo, photo_of


async def send_photo(chat: Chat, data: bytes) -> None:
    await chat._send(Inbound(person=chat.person, kind=InboundKind.PHOTO, key=f"photo-{len(data)}-{hash(data)}",
                             photo=data))


@pytest.mark.parametrize(("content", "expected", "warning"), [
    (vietqr.build("970405", "1234567890", amount=50000, message="TIEN DIEN"), "Agribank", "tên người nhận"),
    ("https://dichvucong.gov.vn/p/home/dvc-trang-chu.html", "dichvucong.gov.vn", None),
    ("https://dichvucongbaohiemxahoi.com/dang-nhap", "dichvucongbaohiemxahoi.com", "⚠️"),
    ("WIFI:T:WPA;S:QuanCaPheXanh;P:matkhau123;;", "QuanCaPheXanh", None),
    ("Chúc mừng năm mới", "Chúc mừng năm mới", None),
])
async def test_a_photo_of_a_qr_is_explained(chat: Chat, content: str, expected: str, warning: str | None) -> None:
    await chat.onboard()
    await chat.press("🔍 Kiểm tra mã QR")
    assert "chụp ảnh mã QR" in chat.text
    await send_photo(chat, photo_of(qr.make_qr_png(content)))
    assert expected in chat.text, chat.text
    if warning:
        assert warning in chat.text
    assert "matkhau123" not in chat.text  # a Wi-Fi password is never repeated
    assert "🔍 Kiểm tra mã QR" in chat.labels()


async def test_no_code_and_not_a_photo(chat: Chat) -> None:
    await chat.onboard()
    await chat.say("/kiemtraqr")
    await send_photo(chat, no_code_photo())
    assert "không đọc được" in chat.text.lower()
    await chat.say("/kiemtraqr")
    await chat.say("đây là chữ")
    assert "ảnh" in chat.text
    await chat.say("/kiemtraqr")
    await send_photo(chat, b"not an image at all")
    assert "không phải ảnh" in chat.text
