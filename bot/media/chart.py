"""The /thongke picture: a commune's overview as one tall PNG an official reads on a phone.

Three panels: people registered and people who finished at least one lesson, by hamlet; people by age group with the
60+ bar highlighted; the milestones as shares of adults. Drawn with matplotlib's object API (no pyplot, so no global
figure state) on the Agg renderer in DejaVu Sans, loaded from `bot.media.fonts.font_path`, so Vietnamese renders;
saved as a palette PNG (about 900 px wide, well under 300 kB).
"""

from __future__ import annotations

import functools
import io
import textwrap
import threading
from typing import Any

from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from bot.media.fonts import font_path
from lessons.framework import MILESTONES
from storage.stats import ELDERS, UNKNOWN_AGE, VN_ZONE, Overview

AGE_LABELS = {"u16": "Dưới 16", "16-29": "16–29", "30-59": "30–59", "60+": "60+", UNKNOWN_AGE: "Chưa rõ"}
_BLUE, _GREEN, _ORANGE, _GREY, _DARK = "#90CAF9", "#2E7D32", "#EF6C00", "#78909C", "#212121"
_WIDTH_IN, _DPI = 6.4, 140  # 896 px wide: sharp on a phone, small as a file
_DRAWING = threading.Lock()  # rc_context changes process-wide settings: one drawing at a time


@functools.cache
def _font_family() -> str:
    """Register the bundled DejaVu Sans (regular and bold) with matplotlib; return its family name."""
    for weight in ("regular", "bold"):
        font_manager.fontManager.addfont(str(font_path(weight)))
    return str(font_manager.FontProperties(fname=str(font_path("regular"))).get_name())


def overview_chart(overview: Overview, *, title: str = "") -> bytes:
    """The PNG of `overview` (from `StatsRepo.overview`); `title` names the place ("Xã Bạch Ngọc", "Xóm Đông").

    Hamlet names come from `overview.by_hamlet`, milestone names from `lessons.framework.MILESTONES`. Takes about
    0.3-0.5 s of CPU: call it off the event loop (`asyncio.to_thread`); calls from several threads take turns.
    """
    rows = overview.by_hamlet
    heights = [0.9 + 0.42 * max(len(rows), 1), 2.3, 0.9 + 0.42 * len(MILESTONES)]
    with _DRAWING, rc_context({"font.family": _font_family(), "font.size": 11, "axes.titlesize": 13,
                               "axes.titleweight": "bold", "axes.titlelocation": "left", "axes.spines.top": False,
                               "axes.spines.right": False}):
        figure = Figure(figsize=(_WIDTH_IN, sum(heights) + 1.0), dpi=_DPI, layout="constrained")
        figure.suptitle(_heading(overview, title), fontsize=12.5, fontweight="bold", color=_DARK, linespacing=1.4)
        hamlets, ages, milestones = figure.subplots(3, 1, gridspec_kw={"height_ratios": heights})
        _hamlet_panel(hamlets, overview)
        _age_panel(ages, overview)
        _milestone_panel(milestones, overview)
        drawn = io.BytesIO()
        figure.savefig(drawn, format="png", facecolor="white")
    return _small_png(drawn.getvalue())


def _small_png(png: bytes) -> bytes:
    """The same picture as an 8-bit palette PNG: a chart has few colours, and the file shrinks about threefold."""
    with Image.open(io.BytesIO(png)) as picture:
        palette = picture.convert("RGB").quantize(colors=96, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _heading(overview: Overview, title: str) -> str:
    local = overview.as_of.astimezone(VN_ZONE)
    first = f"Bình dân học vụ số – {title}" if title else "Bình dân học vụ số"
    return (f"{first}\n{_count(overview.registered)} người đăng ký · {_count(overview.finishers)} đã học xong ≥1 bài"
            f"\nSố liệu lúc {local:%H:%M} ngày {local:%d/%m/%Y}")


def _count(n: int) -> str:
    """12345 → "12.345", the Vietnamese way."""
    return f"{n:,}".replace(",", ".")


def _wrapped(label: str, width: int = 18) -> str:
    return "\n".join(textwrap.wrap(label, width)) or label


def _label_bars(axes: Axes, bars: Any, texts: list[str]) -> None:
    axes.bar_label(bars, labels=texts, padding=3, fontsize=10, color=_DARK)


def _thousands(axis: Any) -> None:
    """Whole-number ticks written 1.000, 2.000 …"""
    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(lambda value, _: _count(int(value)))


def _hamlet_panel(axes: Axes, overview: Overview) -> None:
    axes.set_title("Theo xóm")
    rows = overview.by_hamlet
    if not rows:
        axes.text(0.5, 0.5, "Chưa có ai đăng ký", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return
    places = list(range(len(rows)))
    registered = axes.barh([p - 0.2 for p in places], [r.registered for r in rows], height=0.4, color=_BLUE,
                           label="Đăng ký")
    finished = axes.barh([p + 0.2 for p in places], [r.finishers for r in rows], height=0.4, color=_GREEN,
                         label="Đã học xong ≥1 bài")
    _label_bars(axes, registered, [_count(r.registered) for r in rows])
    _label_bars(axes, finished, [f"{_count(r.finishers)} ({r.completion_rate:.0%})" for r in rows])
    axes.set_xlim(0, max(max(r.registered for r in rows), 1) * 1.3)  # room for the labels
    _thousands(axes.xaxis)
    axes.set_yticks(places, [_wrapped(r.name) for r in rows])
    axes.invert_yaxis()
    axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=10, frameon=False,
                borderaxespad=0.1, handlelength=1.2)


def _age_panel(axes: Axes, overview: Overview) -> None:
    axes.set_title("Theo độ tuổi (cam: người cao tuổi)")
    groups = [g for g in AGE_LABELS if g in overview.by_age]
    counts = [overview.by_age[g] for g in groups]
    bars = axes.bar([AGE_LABELS[g] for g in groups], counts, width=0.6,
                    color=[_ORANGE if g == ELDERS else _GREY for g in groups])
    total = sum(counts)
    _label_bars(axes, bars, [f"{_count(n)} ({n / total:.0%})" if total else "0" for n in counts])
    axes.set_ylim(0, max(max(counts), 1) * 1.2)
    _thousands(axes.yaxis)
    axes.set_ylabel("người")
    for tick, group in zip(axes.get_xticklabels(), groups, strict=True):
        if group == ELDERS:
            tick.set_color(_ORANGE)
            tick.set_fontweight("bold")


def _milestone_panel(axes: Axes, overview: Overview) -> None:
    axes.set_title("Mốc kỹ năng số")
    ids = list(MILESTONES)
    shares = [overview.milestones[m].share * 100 if m in overview.milestones else 0.0 for m in ids]
    people = [overview.milestones[m].people if m in overview.milestones else 0 for m in ids]
    axes.barh(range(len(ids)), shares, height=0.6, color=_GREEN)
    axes.set_yticks(range(len(ids)), [_wrapped(MILESTONES[m][1]) for m in ids])
    axes.set_xlabel(f"tỷ lệ trên {_count(overview.adults)} người từ 16 tuổi trở lên")
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
    for place, (share, n) in enumerate(zip(shares, people, strict=True)):
        text = f"{share:.0f}% ({_count(n)} người)"
        inside = share > 55  # a long bar carries its label inside, in white
        axes.text(share - 1.5 if inside else share + 1.5, place, text, va="center", ha="right" if inside else "left",
                  fontsize=10, color="white" if inside else _DARK, fontweight="bold" if inside else "normal")
