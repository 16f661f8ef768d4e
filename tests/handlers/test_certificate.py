"""Finishing a track gives a certificate (PNG + PDF) whose QR and code verify — until the person is deleted."""

from __future__ import annotations

import io
import pathlib

from aiohttp.test_utils import TestClient, TestServer
from pypdf import PdfReader

from bot.media import qr
from tests.harness import Chat, start_app


async def finish_qr_track(chat: Chat) -> None:
    await chat.onboard()
    await chat.choose("lesson:bai-qr")
    image = chat.last[-1].image
    assert image is not None
    await chat.say(qr.decode_qr(image)[0])
    await chat.say("20000")
    await chat.press("Không")
    assert "hoàn thành bài" in chat.text


async def test_certificate_issued_verified_and_revoked_by_deletion(tmp_path: pathlib.Path) -> None:
    app, recorder = await start_app(tmp_path / "bot.db", public_url="https://bot.bachngoc.vn",
                                    webhook_secret="not-used-here-0000")
    try:
        chat = Chat(app, recorder)
        await finish_qr_track(chat)
        assert "học xong cả chủ đề" in chat.text
        await chat.press("🎓 Nhận chứng nhận")
        assert "họ tên" in chat.text
        await chat.press("✅ Đồng ý")
        await chat.say("123")
        assert "không có số" in chat.text
        await chat.say("  Nguyễn   Thị Hoà ")
        png = chat.last[0].image
        pdf = chat.last[1].document
        assert png is not None and pdf is not None and chat.last[1].document_name.endswith(".pdf")
        [url] = qr.decode_qr(png)
        assert url.startswith("https://bot.bachngoc.vn/verify/")
        code = url.rsplit("/", 1)[1]
        assert code in chat.text
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
        assert "Nguyễn Thị Hoà" in text and "GIẤY CHỨNG NHẬN" in text and "Mã QR" in text

        stranger = Chat(app, recorder, person="test:stranger")
        await stranger.say(f"/xacminh {code.lower().replace('-', ' ')}")
        assert "hợp lệ" in stranger.text and "Nguyễn Thị Hoà" in stranger.text and "«Mã QR»" in stranger.text
        await stranger.say("/xacminh AAAA-BBBB-CCCC-DDDD-EEEE")
        assert "Không tìm thấy" in stranger.text

        client = TestClient(TestServer(app.web_app))
        await client.start_server()
        try:
            page = await client.get(f"/verify/{code}")
            assert page.status == 200 and "Nguyễn Thị Hoà" in await page.text()
            assert (await client.get("/verify/not-a-code")).status == 404

            await chat.say("/xoadulieu")
            await chat.press("🗑 Xóa hết dữ liệu")
            assert (await client.get(f"/verify/{code}")).status == 404
        finally:
            await client.close()
        await stranger.say(f"/xacminh {code}")
        assert "Không tìm thấy" in stranger.text
    finally:
        await app.close()
