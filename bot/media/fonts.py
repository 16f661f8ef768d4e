"""The Unicode TrueType fonts our PDFs and PNGs embed: DejaVu Sans, as shipped inside the matplotlib wheel.

A system font may be missing on CI or a server; the wheel's copy is always there after `pip install`. DejaVu Sans has
every precomposed Vietnamese letter (ắ, ệ, ữ …), so NFC text renders without a shaping engine.
"""

from __future__ import annotations

import functools
import importlib.util
import pathlib
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # fpdf takes about 0.3 s to import: only the functions that make a PDF import it
    from fpdf import FPDF

Weight = Literal["regular", "bold"]

_FILES: dict[Weight, str] = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf"}


class FontMissingError(RuntimeError):
    """The bundled font is not installed (matplotlib missing or stripped)."""


@functools.cache
def font_path(weight: Weight = "regular") -> pathlib.Path:
    """The path of DejaVu Sans (regular or bold) inside the installed matplotlib package, without importing it."""
    spec = importlib.util.find_spec("matplotlib")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        candidate = pathlib.Path(root) / "mpl-data" / "fonts" / "ttf" / _FILES[weight]
        if candidate.is_file():
            return candidate
    raise FontMissingError(f"{_FILES[weight]} not found: install matplotlib, which bundles the DejaVu fonts")


FAMILY = "DejaVu"


def new_pdf(orientation: Literal["portrait", "landscape"] = "portrait", *, title: str = "") -> FPDF:
    """An empty A4 PDF (units: mm) with DejaVu Sans registered as `FAMILY` ("" and "B" styles), Vietnamese, no page."""
    from fpdf import FPDF

    pdf = FPDF(orientation="P" if orientation == "portrait" else "L", unit="mm", format="A4")
    pdf.add_font(FAMILY, "", font_path("regular"))
    pdf.add_font(FAMILY, "B", font_path("bold"))
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_lang("vi")
    pdf.set_creator("hocvuso – Trợ lý số")
    if title:
        pdf.set_title(title)
    return pdf
