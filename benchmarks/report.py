"""The targets of issue 10, the results table and the machine it ran on."""

from __future__ import annotations

import os
import pathlib
import platform
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    unit: str
    pick: Callable[[dict[str, Any]], float | None]
    ok: Callable[[float], bool]
    goal: str


def _get(*path: str) -> Callable[[dict[str, Any]], float | None]:
    def pick(results: dict[str, Any]) -> float | None:
        value: Any = results
        for part in path:
            if not isinstance(value, dict) or value.get(part) is None:
                return None
            value = value[part]
        return float(value)

    return pick


def _first(*picks: Callable[[dict[str, Any]], float | None]) -> Callable[[dict[str, Any]], float | None]:
    """The first figure there is (a full run's single start-up, else the startup phase's median)."""
    def pick(results: dict[str, Any]) -> float | None:
        return next((v for v in (p(results) for p in picks) if v is not None), None)

    return pick


def _zero_429_and_rate(results: dict[str, Any]) -> float | None:
    b = results.get("broadcast")
    if not isinstance(b, dict) or b.get("rate_of_limit") is None:
        return None
    return float(b["rate_of_limit"]) if b["throttled_429"] == 0 and b["delivered"] == b["recipients"] else 0.0


TARGETS = [
    Target("ratio", "engine / baseline, updates/s", "×", _get("ratio"), lambda v: v >= 1.0, "≥ 1.0"),
    Target("p99", "engine p99 latency at the offered load", "ms", _get("engine", "latency", "p99_ms"),
           lambda v: v <= 50, "≤ 50 ms"),
    Target("thongke", "/thongke (overview + chart)", "ms", _get("stats", "thongke_ms"), lambda v: v <= 200,
           "≤ 200 ms"),
    Target("baocao", "/baocao (month + workbook)", "ms", _get("stats", "baocao_ms"), lambda v: v <= 2000, "≤ 2 s"),
    Target("rss_bot", "peak RSS, bot (engine run)", "MB", _get("engine", "peak_rss_mb"), lambda v: v <= 250,
           "≤ 250 MB"),
    Target("rss_stats", "peak RSS, stats process", "MB", _get("stats", "peak_rss_mb"), lambda v: v <= 250,
           "≤ 250 MB"),
    Target("broadcast", "broadcast rate / limit (0 if any 429 or loss)", "", _zero_429_and_rate,
           lambda v: v >= 0.95, "≥ 0.95, no 429"),
    Target("startup", "start-up to first getUpdates (migrated DB)", "s",
           _first(_get("startup", "migrated_median_s"), _get("engine", "startup_s")),
           lambda v: v <= 1.5, "≤ 1.5 s"),
    Target("startup_fresh", "start-up to first getUpdates (new DB)", "s",
           _first(_get("startup", "new_median_s"), _get("fresh_start", "startup_s")),
           lambda v: v <= 1.5, "≤ 1.5 s"),
]


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for target in TARGETS:
        value = target.pick(results)
        verdict = "n/a" if value is None else ("PASS" if target.ok(value) else "FAIL")
        rows.append({"key": target.key, "label": target.label, "value": value, "unit": target.unit,
                     "target": target.goal, "verdict": verdict})
    return rows


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform()}
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
        info["loadavg_at_start"] = pathlib.Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        pass
    return info


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def table(results: dict[str, Any]) -> str:
    """The measurements, then the targets with PASS/FAIL."""
    e, b, s, bc = (results.get(k) or {} for k in ("engine", "baseline", "stats", "broadcast"))
    es, el, bs = e.get("saturated") or {}, e.get("latency") or {}, b.get("saturated") or {}
    rows = [
        ("engine, saturated", _fmt(es.get("per_second"), "updates/s"),
         f"{es.get('answered')} updates, {results.get('config', {}).get('people')} people, p50 "
         f"{_fmt(es.get('p50_ms'), 'ms')}, p99 {_fmt(es.get('p99_ms'), 'ms')}, bot CPU {_fmt(e.get('bot_cpu_share'))} "
         f"({_fmt(e.get('bot_cpu_ms_per_update'), 'ms')}/update), "
         f"fake CPU {_fmt(e.get('fake_cpu_share'))}, driver CPU {_fmt(e.get('driver_cpu_share'))}, "
         f"off-script {es.get('off_script')}, stalled {es.get('stalled')}"),
        ("baseline echo bot, saturated", _fmt(bs.get("per_second"), "updates/s"),
         f"{bs.get('answered')} updates, p50 {_fmt(bs.get('p50_ms'), 'ms')}, p99 {_fmt(bs.get('p99_ms'), 'ms')}, "
         f"bot CPU {_fmt(b.get('bot_cpu_share'))} ({_fmt(b.get('bot_cpu_ms_per_update'), 'ms')}/update), "
         f"fake CPU {_fmt(b.get('fake_cpu_share'))}, "
         f"driver CPU {_fmt(b.get('driver_cpu_share'))}"),
        ("engine / baseline", _fmt(results.get("ratio"), "×"),
         "the issue's baseline: stock python-telegram-bot (httpx)"
         + (f"; turn by turn {', '.join(_fmt(r) for r in results['ratio_by_turn'])}"
            if len(results.get("ratio_by_turn") or []) > 1 else "")),
        ("echo bot on the engine's transport", _fmt(((results.get("baseline_aiohttp") or {}).get("saturated") or {})
                                                    .get("per_second"), "updates/s"),
         f"bot CPU {_fmt((results.get('baseline_aiohttp') or {}).get('bot_cpu_ms_per_update'), 'ms')}/update; "
         f"engine / it {_fmt(results.get('ratio_same_transport'), '×')} (AiohttpRequest, the engine's own)"),
        ("engine, paced", f"p50 {_fmt(el.get('p50_ms'), 'ms')}, p99 {_fmt(el.get('p99_ms'), 'ms')}",
         f"offered {_fmt(el.get('offered_per_second'))}/s (asked {results.get('config', {}).get('rate')}/s), "
         f"answered {_fmt(el.get('per_second'))}/s, max {_fmt(el.get('max_ms'), 'ms')}"),
        ("/thongke", _fmt(s.get("thongke_ms"), "ms"),
         f"overview {_fmt(s.get('overview_ms'), 'ms')} + chart {_fmt(s.get('chart_ms'), 'ms')}; "
         f"{s.get('people')} people, {s.get('events')} events; first run {_fmt(s.get('thongke_first_ms'), 'ms')}"),
        ("/baocao", _fmt(s.get("baocao_ms"), "ms"),
         f"month {_fmt(s.get('month_ms'), 'ms')} + workbook {_fmt(s.get('workbook_ms'), 'ms')}"),
        ("peak RSS, bot", _fmt(e.get("peak_rss_mb"), "MB"), f"baseline echo bot {_fmt(b.get('peak_rss_mb'), 'MB')}"),
        ("peak RSS, stats", _fmt(s.get("peak_rss_mb"), "MB"), ""),
        ("broadcast", _fmt(bc.get("rate_per_second"), "msg/s"),
         f"{bc.get('delivered')}/{bc.get('recipients')} delivered, {bc.get('throttled_429')} × 429, "
         f"at most {bc.get('max_in_any_second')} in any second"),
        ("start-up", _fmt(e.get("startup_s"), "s"),
         f"new DB {_fmt((results.get('fresh_start') or {}).get('startup_s'), 's')}, "
         f"broadcast run {_fmt(bc.get('startup_s'), 's')}, echo bot {_fmt(b.get('startup_s'), 's')}"),
    ]
    su = results.get("startup")
    if su:
        rows.append((f"start-up, {su.get('runs')} runs each", _fmt(su.get("migrated_median_s"), "s"),
                     f"median, migrated DB {su.get('migrated_s')}; new DB median "
                     f"{_fmt(su.get('new_median_s'), 's')} {su.get('new_s')}; bot CPU by then, median: "
                     f"migrated {_fmt(su.get('migrated_cpu_median_s'), 's')}, "
                     f"new {_fmt(su.get('new_cpu_median_s'), 's')}; 1-min load {su.get('loadavg_1min')}"))
    for key in [k for k in results if k.startswith("what_if:")]:
        w = results[key]
        ws, wl = w.get("saturated") or {}, w.get("latency") or {}
        rows.insert(3, (f"engine, what-if {key.split(':', 1)[1]}", _fmt(ws.get("per_second"), "updates/s"),
                        f"ratio {_fmt(w.get('ratio'), '×')}, paced p50 {_fmt(wl.get('p50_ms'), 'ms')}, "
                        f"p99 {_fmt(wl.get('p99_ms'), 'ms')} (offered {_fmt(wl.get('offered_per_second'))}/s), "
                        f"bot CPU {_fmt(w.get('bot_cpu_share'))} "
                        f"({_fmt(w.get('bot_cpu_ms_per_update'), 'ms')}/update), "
                        f"RSS {_fmt(w.get('peak_rss_mb'), 'MB')}, "
                        f"off-script {ws.get('off_script')}"))
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    m = results.get("machine") or {}
    lines = [f"machine: {m.get('nproc')} CPUs ({m.get('cpu')}), {m.get('memory_gb')} GB, Python {m.get('python')}; "
             f"load average at start {' '.join(m.get('loadavg_at_start') or [])}, "
             f"at end {' '.join(m.get('loadavg_at_end') or [])}", ""]
    lines += [f"{name:<{width}}  {value:>{vwidth}}  {note}".rstrip() for name, value, note in rows]
    lines.append("")
    targets = results.get("targets") or []
    lwidth = max((len(t["label"]) for t in targets), default=10)
    for t in targets:
        value = _fmt(t["value"], t["unit"])
        lines.append(f"{t['verdict']:<4}  {t['label']:<{lwidth}}  {value:>12}  target {t['target']}")
    return "\n".join(lines)
