"""Times the Vietnamese way (VOICE.md): "8 giờ 30 sáng thứ Bảy, 14/12/2026"; parsing what mentors type."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

WEEKDAYS = ["thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật"]
_WHEN = re.compile(
    r"^\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*(\d{2,4}))?[\s,]+(\d{1,2})\s*(?:[:hg]|giờ)?\s*(\d{2})?\s*$",
    re.IGNORECASE)


def part_of_day(hour: int) -> str:
    if hour < 11:
        return "sáng"
    if hour < 14:
        return "trưa"
    if hour < 18:
        return "chiều"
    return "tối"


def spoken(moment: dt.datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    hour12 = local.hour if local.hour <= 12 else local.hour - 12
    clock = f"{hour12} giờ" + (f" {local.minute:02d}" if local.minute else "")
    return f"{clock} {part_of_day(local.hour)} {WEEKDAYS[local.weekday()]}, {local:%d/%m/%Y}"


def parse_when(text: str, zone: ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """"14/12 8:30", "14/12/2026 15h", "14-12 8 giờ 30" → an aware UTC time in the future, else None."""
    match = _WHEN.match(text.replace("giờ", "g"))
    if match is None:
        return None
    day, month, year, hour, minute = match.groups()
    local_now = now.astimezone(zone)
    year_value = int(year) if year else local_now.year
    if year_value < 100:
        year_value += 2000
    try:
        local = dt.datetime(year_value, int(month), int(day), int(hour), int(minute or 0), tzinfo=zone)
    except ValueError:
        return None
    if not year and local < local_now:
        local = local.replace(year=local.year + 1)
    return local.astimezone(dt.UTC) if local > local_now else None


def evening_before(moment: dt.datetime, zone: ZoneInfo, hour: int = 19) -> dt.datetime:
    """19:00 local on the day before the meeting (UTC)."""
    local = moment.astimezone(zone) - dt.timedelta(days=1)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
