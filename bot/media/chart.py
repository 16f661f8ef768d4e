"""The /thongke picture: a commune's overview as one tall PNG an official reads on a phone.

Three panels: people registered and people who finished at least one lesson, by hamlet; people by age group with the
60+ bar highlighted; the milestones as shares of adults. Drawn straight onto a Pillow image (no plotting library: a
picture takes about 17 ms of CPU, where matplotlib took 0.5-0.7 s and about 40 MB more memory) in DejaVu Sans, loaded
from `bot.media.fonts.font_path`, so Vietnamese renders; saved as a PNG on a fixed palette of the chart's colours and
their anti-aliasing shades, 896 px wide, about 55 kB.

The same figures give the same picture, so the last few are kept (`_CACHE`): a second /thongke with nothing changed
(the minute shown in the heading included) costs nothing.
"""

from __future__ import annotations

import functools
import io
import math
import textwrap
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.media.fonts import Weight, font_path
from lessons.framework import MILESTONES
from storage.stats import Overview
from storage.stats_sql import ELDERS, UNKNOWN_AGE, VN_ZONE

if TYPE_CHECKING:  # Pillow is imported where a chart is drawn, not at start-up
    from PIL import Image, ImageFont

AGE_LABELS = {"u16": "Dưới 16", "16-29": "16–29", "30-59": "30–59", "60+": "60+", UNKNOWN_AGE: "Chưa rõ"}
_BLUE, _GREEN, _ORANGE, _GREY, _DARK = "#90CAF9", "#2E7D32", "#EF6C00", "#78909C", "#212121"
_WHITE = "#FFFFFF"
_WIDTH = 896  # px: sharp on a phone, small as a file
_PT = 140 / 72  # px per typographic point (the picture is laid out as at 140 dpi)
_MARGIN = 18
_ROW = 58  # px from one hamlet (milestone) to the next
_TICK = 6  # px: length of an axis tick
_SHADES = 32  # anti-aliasing shades from each text colour to its background, in the PNG's palette
_CACHE_SIZE = 16
_CACHE: OrderedDict[Hashable, bytes] = OrderedDict()  # figures → PNG, least recently used first
_DRAWING = threading.Lock()  # one FreeType face is shared by every drawing: one drawing at a time


@functools.cache
def _font(size_pt: float, weight: Weight = "regular") -> ImageFont.FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path(weight)), round(size_pt * _PT))


def overview_chart(overview: Overview, *, title: str = "") -> bytes:
    """The PNG of `overview` (from `StatsRepo.overview`); `title` names the place ("Xã Bạch Ngọc", "Xóm Đông").

    Hamlet names come from `overview.by_hamlet`, milestone names from `lessons.framework.MILESTONES`. Takes about
    17 ms of CPU (nothing when the same figures were drawn lately); calls from several threads take turns.
    """
    heading = _heading(overview, title)
    key = (heading, tuple((r.name, r.registered, r.finishers) for r in overview.by_hamlet),
           tuple(overview.by_age.items()), overview.adults,
           tuple((m, s.people, s.share) for m, s in sorted(overview.milestones.items())))
    with _DRAWING:
        png = _CACHE.get(key)
        if png is None:
            png = _draw(overview, heading)
            _CACHE[key] = png
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        _CACHE.move_to_end(key)
        return png


def forget_charts() -> None:
    """Drop the pictures kept for reuse (to time a drawing, or after a font change)."""
    with _DRAWING:
        _CACHE.clear()


def _heading(overview: Overview, title: str) -> str:
    local = overview.as_of.astimezone(VN_ZONE)
    first = f"Bình dân học vụ số – {title}" if title else "Bình dân học vụ số"
    return (f"{first}\n{_count(overview.registered)} người đăng ký · {_count(overview.finishers)} đã học xong ≥1 bài"
            f"\nSố liệu lúc {local:%H:%M} ngày {local:%d/%m/%Y}")


def _count(n: int) -> str:
    """12345 → "12.345", the Vietnamese way."""
    return f"{n:,}".replace(",", ".")


def _wrapped(label: str, width: int = 18) -> list[str]:
    return textwrap.wrap(label, width) or [label]


# ---- drawing ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Text:
    size: float = 11  # points
    weight: Weight = "regular"
    colour: str = _DARK

    @property
    def font(self) -> ImageFont.FreeTypeFont:
        return _font(self.size, self.weight)

    @property
    def line(self) -> int:
        """px from one line to the next."""
        return round(self.size * _PT * 1.25)


_BODY, _SMALL = _Text(11), _Text(10)
_TITLE, _HEAD = _Text(13, "bold"), _Text(12.5, "bold")


class _Canvas:
    """A white picture 896 px wide that grows downwards as panels are added (`top` is where the next one goes)."""

    def __init__(self, height: int) -> None:
        from PIL import Image, ImageDraw

        self.image = Image.new("RGB", (_WIDTH, height), _WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self.top = 0

    def width(self, text: str, style: _Text) -> float:
        return self.draw.textlength(text, font=style.font)

    def text(self, x: float, y: float, text: str, style: _Text, anchor: str = "la",
             colour: str | None = None) -> None:
        """One line; `anchor` as in Pillow ("la": left/ascender at (x, y), "lm": left/middle, "mt", "rm" …)."""
        self.draw.text((x, y), text, fill=colour or style.colour, font=style.font, anchor=anchor)

    def lines(self, x: float, y: float, lines: Sequence[str], style: _Text, anchor: str = "rm") -> None:
        """Several lines centred vertically on y, each anchored as `anchor` (a middle anchor: "rm", "mm", "lm")."""
        first = y - (len(lines) - 1) * style.line / 2
        for i, line in enumerate(lines):
            self.text(x, first + i * style.line, line, style, anchor)

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour: str) -> None:
        if x1 > x0 and y1 > y0:
            self.draw.rectangle((round(x0), round(y0), round(x1) - 1, round(y1) - 1), fill=colour)

    def hline(self, x0: float, x1: float, y: float) -> None:
        self.draw.line((round(x0), round(y), round(x1), round(y)), fill=_DARK, width=1)

    def vline(self, x: float, y0: float, y1: float) -> None:
        self.draw.line((round(x), round(y0), round(x), round(y1)), fill=_DARK, width=1)

    def vertical_text(self, x: float, y: float, text: str, style: _Text) -> None:
        """Text turned a quarter left (read bottom to top), centred on (x, y)."""
        from PIL import Image, ImageDraw

        w, h = round(self.width(text, style)) + 2, round(style.size * _PT * 1.4)
        strip = Image.new("L", (w, h), 0)
        ImageDraw.Draw(strip).text((w / 2, h / 2), text, fill=255, font=style.font, anchor="mm")
        turned = strip.rotate(90, expand=True)
        ink = Image.new("RGB", turned.size, style.colour)
        self.image.paste(ink, (round(x - turned.width / 2), round(y - turned.height / 2)), turned)


def _nice_ticks(top: float, most: int = 8) -> list[int]:
    """Whole-number ticks 0, step, 2·step … ≤ top, with step 1, 2, 2.5 or 5 × 10^k giving at most `most` + 1."""
    if top <= 0:
        return [0]
    raw = top / most
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw and (m * magnitude) % 1 == 0),
                10 * magnitude)
    return [int(i * step) for i in range(int(top // step) + 1)]


def _draw(overview: Overview, heading: str) -> bytes:
    rows = overview.by_hamlet
    hamlet_labels = [_wrapped(r.name) for r in rows]
    milestone_labels = [_wrapped(MILESTONES[m][1]) for m in MILESTONES]
    hamlet_height = _TITLE.line + 20 + _ROW * max(len(rows), 1) + _TICK + _BODY.line + 16
    age_height = _TITLE.line + 20 + 230 + _TICK + _BODY.line + 16
    milestone_height = _TITLE.line + 20 + _ROW * len(MILESTONES) + _TICK + 2 * _BODY.line + 8
    heading_lines = heading.split("\n")
    canvas = _Canvas(12 + _HEAD.line * len(heading_lines) + 12 + hamlet_height + age_height + milestone_height
                     + _MARGIN)
    widest = max((canvas.width(line, _BODY) for label in [*hamlet_labels, *milestone_labels] for line in label),
                 default=0.0)
    left = _MARGIN + min(widest, _WIDTH * 0.4) + _TICK + 6  # where the plots start: after the longest label
    right = _WIDTH - _MARGIN - 24  # room for half of the last tick's label
    y = 12 + _HEAD.line / 2
    for line in heading_lines:
        canvas.text(_WIDTH / 2, y, line, _HEAD, "mm")
        y += _HEAD.line
    canvas.top = round(y - _HEAD.line / 2 + 12)
    _hamlet_panel(canvas, overview, hamlet_labels, left, right, hamlet_height)
    _age_panel(canvas, overview, left, right, age_height)
    _milestone_panel(canvas, overview, milestone_labels, left, right, milestone_height)
    return _small_png(canvas.image)


@functools.cache
def _palette() -> Image.Image:
    """The chart's colours and, for anti-aliased text, the shades between each text colour and what it is drawn on
    (dark, orange on white; white on green), 32 steps each: every pixel the chart has is one of these or close."""
    from PIL import Image, ImageColor

    def rgb(colour: str) -> tuple[int, int, int]:
        red, green, blue = ImageColor.getrgb(colour)[:3]
        return red, green, blue

    solid = [rgb(c) for c in (_WHITE, _DARK, _BLUE, _GREEN, _ORANGE, _GREY)]
    colours = list(solid)
    for ink, ground in ((_DARK, _WHITE), (_ORANGE, _WHITE), (_WHITE, _GREEN)):
        (r0, g0, b0), (r1, g1, b1) = rgb(ink), rgb(ground)
        for k in range(1, _SHADES):
            shade = (round(r0 + (r1 - r0) * k / _SHADES), round(g0 + (g1 - g0) * k / _SHADES),
                     round(b0 + (b1 - b0) * k / _SHADES))
            # Pillow maps pixels to a palette through a coarse cache: a shade this close to a solid colour would
            # take that colour's pixels (the white background came out (248, 251, 249)).
            if min(max(abs(a - b) for a, b in zip(shade, colour, strict=True)) for colour in solid) > 12:
                colours.append(shade)
    palette = Image.new("P", (1, 1))
    palette.putpalette([channel for colour in colours for channel in colour])
    return palette


def _small_png(picture: Image.Image) -> bytes:
    """An 8-bit palette PNG: a chart has few colours, and the file is about a third of an RGB one. The palette is
    fixed (`_palette`): mapping to it takes 2 ms where choosing one for each picture (FASTOCTREE) took 14 ms."""
    from PIL import Image

    indexed = picture.quantize(palette=_palette(), dither=Image.Dither.NONE)
    out = io.BytesIO()
    indexed.save(out, format="PNG", compress_level=3)  # 6: 20 % smaller, twice as slow; optimize=True: 15 times
    return out.getvalue()


def _panel_title(canvas: _Canvas, x: float, text: str) -> float:
    """Draw a panel's title at the current top; the y where its plot starts."""
    canvas.text(x, canvas.top + _TITLE.line / 2, text, _TITLE, "lm")
    return canvas.top + _TITLE.line + 20


def _x_axis(canvas: _Canvas, left: float, right: float, bottom: float, ticks: Sequence[tuple[float, str]]) -> None:
    canvas.hline(left, right, bottom)
    for x, label in ticks:
        canvas.vline(x, bottom, bottom + _TICK)
        canvas.text(x, bottom + _TICK + 3, label, _BODY, "ma")


def _hamlet_panel(canvas: _Canvas, overview: Overview, labels: list[list[str]], left: float, right: float,
                  height: int) -> None:
    rows = overview.by_hamlet
    plot_top = _panel_title(canvas, left, "Theo xóm")
    if not rows:
        canvas.text((left + right) / 2, plot_top + _ROW / 2, "Chưa có ai đăng ký", _BODY, "mm")
        canvas.top += height
        return
    x = right  # the legend, right-aligned on the title's line
    legend_y = canvas.top + _TITLE.line / 2
    swatch = round(_SMALL.size * _PT * 0.8)
    for text, colour in (("Đã học xong ≥1 bài", _GREEN), ("Đăng ký", _BLUE)):
        x -= canvas.width(text, _SMALL)
        canvas.text(x, legend_y, text, _SMALL, "lm")
        x -= swatch + 6
        canvas.rect(x, legend_y - swatch / 2, x + swatch, legend_y + swatch / 2, colour)
        x -= 18
    top = max(max(r.registered for r in rows), 1) * 1.3  # room for the labels
    scale = (right - left) / top
    bottom = plot_top + _ROW * len(rows)
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        middle = plot_top + _ROW * (i + 0.5)
        bar = _ROW * 0.4
        canvas.rect(left + 1, middle - bar, left + 1 + row.registered * scale, middle, _BLUE)
        canvas.rect(left + 1, middle, left + 1 + row.finishers * scale, middle + bar, _GREEN)
        canvas.text(left + row.registered * scale + 5, middle - bar / 2, _count(row.registered), _SMALL, "lm")
        canvas.text(left + row.finishers * scale + 5, middle + bar / 2,
                    f"{_count(row.finishers)} ({row.completion_rate:.0%})", _SMALL, "lm")
        canvas.hline(left - _TICK, left, middle)
        canvas.lines(left - _TICK - 4, middle, label, _BODY, "rm")
    canvas.vline(left, plot_top - 4, bottom)
    _x_axis(canvas, left, right, bottom, [(left + t * scale, _count(t)) for t in _nice_ticks(top)])
    canvas.top += height


def _age_panel(canvas: _Canvas, overview: Overview, left: float, right: float, height: int) -> None:
    plot_top = _panel_title(canvas, left, "Theo độ tuổi (cam: người cao tuổi)")
    groups = [g for g in AGE_LABELS if g in overview.by_age]
    counts = [overview.by_age[g] for g in groups]
    total = sum(counts)
    bottom = plot_top + 230
    top = max(max(counts, default=0), 1) * 1.2
    scale = (bottom - plot_top) / top
    slot = (right - left) / max(len(groups), 1)
    for i, (group, n) in enumerate(zip(groups, counts, strict=True)):
        middle = left + slot * (i + 0.5)
        elder = group == ELDERS
        canvas.rect(middle - slot * 0.3, bottom - n * scale, middle + slot * 0.3, bottom, _ORANGE if elder else _GREY)
        label = [_count(n), f"({n / total:.0%})"] if total else ["0"]
        if canvas.width(" ".join(label), _SMALL) <= slot - 6:  # one line when it fits above the bar
            label = [" ".join(label)]
        for j, line in enumerate(reversed(label)):
            canvas.text(middle, bottom - n * scale - 4 - j * _SMALL.line, line, _SMALL, "md")
        canvas.vline(middle, bottom, bottom + _TICK)
        style = _Text(11, "bold", _ORANGE) if elder else _BODY
        canvas.text(middle, bottom + _TICK + 3, AGE_LABELS[group], style, "ma")
    canvas.hline(left, right, bottom)
    canvas.vline(left, plot_top - 4, bottom)
    for tick in _nice_ticks(top, 6):
        y = bottom - tick * scale
        canvas.hline(left - _TICK, left, y)
        canvas.text(left - _TICK - 4, y, _count(tick), _BODY, "rm")
    widest = max(canvas.width(_count(t), _BODY) for t in _nice_ticks(top, 6))
    canvas.vertical_text(max(left - _TICK - 4 - widest - _BODY.line * 0.7, _MARGIN + _BODY.line / 2),
                         (plot_top + bottom) / 2, "người", _BODY)
    canvas.top += height


def _milestone_panel(canvas: _Canvas, overview: Overview, labels: list[list[str]], left: float, right: float,
                     height: int) -> None:
    plot_top = _panel_title(canvas, left, "Mốc kỹ năng số")
    scale = (right - left) / 100
    bottom = plot_top + _ROW * len(MILESTONES)
    for i, (milestone, label) in enumerate(zip(MILESTONES, labels, strict=True)):
        found = overview.milestones.get(milestone)
        share, people = (found.share * 100, found.people) if found else (0.0, 0)
        middle = plot_top + _ROW * (i + 0.5)
        canvas.rect(left + 1, middle - _ROW * 0.3, left + 1 + share * scale, middle + _ROW * 0.3, _GREEN)
        text = f"{share:.0f}% ({_count(people)} người)"
        if share > 55:  # a long bar carries its label inside, in white
            canvas.text(left + (share - 1.5) * scale, middle, text, _Text(10, "bold", _WHITE), "rm")
        else:
            canvas.text(left + (share + 1.5) * scale, middle, text, _SMALL, "lm")
        canvas.hline(left - _TICK, left, middle)
        canvas.lines(left - _TICK - 4, middle, label, _BODY, "rm")
    canvas.vline(left, plot_top - 4, bottom)
    _x_axis(canvas, left, right, bottom, [(left + p * scale, f"{p}%") for p in (0, 25, 50, 75, 100)])
    canvas.text((left + right) / 2, bottom + _TICK + 3 + _BODY.line + 4,
                f"tỷ lệ trên {_count(overview.adults)} người từ 16 tuổi trở lên", _BODY, "ma")
    canvas.top += height
