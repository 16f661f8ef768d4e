"""Posters: `hocvuso poster` and /apphich produce an A4 PDF whose QR codes start the bot in that hamlet."""

from __future__ import annotations

import pathlib

import pytest
from sqlalchemy import select

from bot.cli import main
from storage.models import Person
from tests.harness import Chat, start_app
from tests.media.test_documents import pdf_codes, pdf_text


def test_poster_command_writes_a_pdf_with_the_hamlet_link(tmp_path: pathlib.Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOCVUSO_COMMUNE", "xã Bạch Ngọc")
    monkeypatch.setenv("HOCVUSO_HAMLETS", "Xóm 1,Thôn Đông")
    monkeypatch.delenv("HOCVUSO_TELEGRAM_TOKEN", raising=False)
    out = tmp_path / "poster.pdf"
    assert main(["poster", "--hamlet", "thon dong", "--out", str(out), "--bot-username", "TroLySoBot",
                 "--zalo-link", "https://zalo.me/123456789"]) == 0
    pdf = out.read_bytes()
    assert sorted(pdf_codes(pdf)) == ["https://t.me/TroLySoBot?start=thon-dong", "https://zalo.me/123456789"]
    assert "Thôn Đông" in pdf_text(pdf) and "Bạch Ngọc" in pdf_text(pdf)
    assert main(["poster", "--hamlet", "Xóm 9", "--out", str(out), "--bot-username", "X"]) == 2


async def test_officials_get_a_poster_by_command(tmp_path: pathlib.Path) -> None:
    app, recorder = await start_app(tmp_path / "bot.db", telegram_bot_username="@TroLySoBot")
    try:
        villager = Chat(app, recorder, person="test:v")
        await villager.onboard()
        await villager.say("/apphich Xóm 2")
        assert "dành cho người khác" in villager.text
        async with app.engine._sessions() as session, session.begin():
            (await session.scalars(select(Person))).one().is_official = True
        await villager.say("/apphich xom 2")
        document = villager.last[-1].document
        assert document is not None and villager.last[-1].document_name == "ap-phich-xom-2.pdf"
        assert pdf_codes(document) == ["https://t.me/TroLySoBot?start=xom-2"]
        await villager.say("/apphich")
        assert "Các xóm: Xóm 1" in villager.text
    finally:
        await app.close()
