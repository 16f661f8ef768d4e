"""/thongke through the bot reuses the overview it computed a moment ago, and computes it again once someone
registers; the chart is titled with the place once."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

import handlers.stats
from storage.stats import StatsRepo
from tests.handlers.test_official_reports import official_and_learner
from tests.harness import Chat, start_app


async def test_thongke_reuses_the_overview_until_someone_registers(tmp_path: pathlib.Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    computed: list[int] = []
    titles: list[str] = []
    compute, draw = StatsRepo._overview, handlers.stats.overview_chart

    async def counted(self: StatsRepo, commune_id: int, *args: Any) -> Any:
        computed.append(commune_id)
        return await compute(self, commune_id, *args)

    def titled(overview: Any, *, title: str = "") -> bytes:
        titles.append(title)
        return draw(overview, title=title)

    monkeypatch.setattr(StatsRepo, "_overview", counted)
    monkeypatch.setattr(handlers.stats, "overview_chart", titled)
    app, recorder = await start_app(tmp_path / "bot.db")
    try:
        official = await official_and_learner(app, recorder)
        await official.say("/thongke")
        first = official.last[-1]
        assert "Đăng ký: 1 người" in first.text and len(computed) == 1
        await official.say("/thongke")  # nothing changed: the same figures, not computed again
        assert official.last[-1].text == first.text and official.last[-1].image == first.image
        assert len(computed) == 1
        newcomer = Chat(app, recorder, person="test:newcomer")
        await newcomer.onboard(hamlet="Xóm 2")
        await official.say("/thongke")
        assert "Đăng ký: 2 người" in official.last[-1].text and len(computed) == 2
        commune = app.engine._community.commune_name
        assert titles == [commune] * 3  # the chart adds "Bình dân học vụ số – " itself
    finally:
        await app.close()
