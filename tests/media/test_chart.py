"""The /thongke picture drawn with Pillow: every letter it writes is in the bundled font, the same figures give the
same picture (kept, so a second /thongke costs nothing), and new figures a new one."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import time

import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw

from bot.media import chart
from bot.media.chart import forget_charts, overview_chart
from bot.media.fonts import font_path
from storage.stats import EscalationFigures, HamletRow, MilestoneShare, Overview

AS_OF = dt.datetime(2026, 11, 20, 3, tzinfo=dt.UTC)  # 10:00 in Hà Nội


def view(**changes: object) -> Overview:
    rows = [HamletRow(1, "Xóm Đông", 8066, 4854, 9000, 1700), HamletRow(2, "Thôn Nguyễn Huệ Đông Bắc", 120, 80, 90, 30),
            HamletRow(None, "Chưa chọn xóm", 12, 0, 0, 2)]
    figures = Overview(as_of=AS_OF, hamlet_id=None, registered=sum(r.registered for r in rows), adults=6000,
                       elders=1732, active_7d=0, active_30d=0, lessons_completed=0, assisted_completions=0,
                       track_finishers={}, by_hamlet=rows,
                       by_age={"u16": 1000, "16-29": 2000, "30-59": 2466, "60+": 1732, "unknown": 1000},
                       escalations=EscalationFigures(0, 0, 0, None, None, None), mentors_active=0,
                       milestones={"vneid_level2": MilestoneShare(4000, 4000 / 6000),
                                   "paid_bill": MilestoneShare(700, 700 / 6000)})
    return dataclasses.replace(figures, **changes)  # type: ignore[arg-type]


def test_every_letter_drawn_is_in_the_font(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str] = []
    original = ImageDraw.ImageDraw.text

    def text(self: ImageDraw.ImageDraw, xy: object, content: str, *args: object, **kwargs: object) -> None:
        drawn.append(content)
        original(self, xy, content, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", text)
    forget_charts()
    overview_chart(view(), title="Xã Bạch Ngọc")
    overview_chart(view(by_hamlet=[], registered=0), title="Xóm Mới")  # "Chưa có ai đăng ký"
    letters = set("".join(drawn)) - {" ", "\n"}
    assert {"ư", "ọ", "đ", "ố", "≥", "–", "·", "%"} <= letters  # the labels, the heading, the figures were drawn
    for weight in ("regular", "bold"):
        cmap = TTFont(str(font_path(weight))).getBestCmap()
        assert not {c for c in letters if ord(c) not in cmap}, weight


def test_the_picture_is_a_small_tall_palette_png() -> None:
    forget_charts()
    started = time.perf_counter()
    png = overview_chart(view(), title="Xã Bạch Ngọc")
    print(f"\nchart: {len(png) / 1000:.0f} kB in {(time.perf_counter() - started) * 1000:.0f} ms")
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG" and picture.mode == "P" and picture.width == 896 < picture.height
    assert len(png) < 100_000
    colours = {rgb for _, rgb in picture.convert("RGB").getcolors(maxcolors=256) or []}
    assert {(0x90, 0xCA, 0xF9), (0x2E, 0x7D, 0x32), (0xEF, 0x6C, 0x00), (0x78, 0x90, 0x9C)} <= colours  # the bars


def test_the_same_figures_give_the_same_picture_kept_for_reuse() -> None:
    forget_charts()
    first = overview_chart(view(), title="Xã Bạch Ngọc")
    assert overview_chart(view(), title="Xã Bạch Ngọc") is first  # equal figures (another object): kept
    forget_charts()
    again = overview_chart(view(), title="Xã Bạch Ngọc")
    assert again == first and again is not first  # drawn again: the very same bytes
    first = again
    later = overview_chart(view(as_of=AS_OF + dt.timedelta(minutes=1)), title="Xã Bạch Ngọc")  # the heading's time
    assert later != first
    assert overview_chart(view(), title="Xóm Đông") != first
    assert overview_chart(view(adults=6001), title="Xã Bạch Ngọc") != first  # milestone axis label
    assert overview_chart(view(active_7d=5), title="Xã Bạch Ngọc") is first  # not in the picture
    for n in range(chart._CACHE_SIZE + 1):
        overview_chart(view(adults=n))
    assert overview_chart(view(), title="Xã Bạch Ngọc") is not first  # only the last few are kept
