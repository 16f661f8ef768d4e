"""`python -m benchmarks --quick` runs every phase end to end and writes every figure (no timing is asserted)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from benchmarks import runs

# The benchmark makes its own SQLite databases; the PostgreSQL pass of the suite need not run it again.
pytestmark = pytest.mark.sqlite_only

ROOT = pathlib.Path(__file__).resolve().parents[1]

FIGURES = {
    "engine": ["startup_s", "peak_rss_mb", "bot_cpu_share", "api_calls_per_update"],
    "engine.saturated": ["answered", "per_second", "p50_ms", "p99_ms"],
    "engine.latency": ["answered", "per_second", "offered_per_second", "p50_ms", "p99_ms"],
    "baseline": ["startup_s", "peak_rss_mb"],
    "baseline.saturated": ["answered", "per_second", "p50_ms", "p99_ms"],
    "baseline_aiohttp": ["startup_s", "peak_rss_mb", "bot_cpu_ms_per_update"],
    "baseline_aiohttp.saturated": ["answered", "per_second"],
    "stats": ["people", "events", "overview_ms", "chart_ms", "thongke_ms", "month_ms", "workbook_ms", "baocao_ms",
              "peak_rss_mb"],
    "broadcast": ["recipients", "delivered", "rate_per_second", "rate_of_limit", "throttled_429", "startup_s"],
    "fresh_start": ["startup_s"],
}


def test_quick_benchmark_writes_every_figure(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--turns", "2", "--json", str(out),
                           "--cache", str(tmp_path / "cache")], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["errors"] == {}
    assert results["config"]["people"] == 10 and results["config"]["updates"] == 100
    assert results["ratio"] > 0 and results["ratio_same_transport"] > 0
    for path, keys in FIGURES.items():
        section = results
        for part in path.split("."):
            section = section[part]
        missing = [key for key in keys if section.get(key) is None]
        assert not missing, f"{path}: {missing}"
    assert results["engine"]["saturated"]["answered"] == 100  # two turns of 50, each bot's added up
    assert len(results["engine"]["turns"]) == len(results["baseline"]["turns"]) == len(results["ratio_by_turn"]) == 2
    assert results["engine"]["saturated"]["off_script"] == 0  # every answer offered the button pressed next
    assert results["baseline"]["saturated"]["answered"] == 100
    assert results["baseline_aiohttp"]["saturated"]["answered"] == 50  # echo bot, engine's transport: one turn
    assert results["stats"]["people"] == 2_000 and results["broadcast"]["recipients"] == 50
    assert results["broadcast"]["delivered"] == 50  # 429s are retried, nothing is lost
    assert {t["key"] for t in results["targets"]} == {"ratio", "p99", "thongke", "baocao", "rss_bot", "rss_stats",
                                                     "broadcast", "startup", "startup_fresh"}
    assert all(t["verdict"] in ("PASS", "FAIL") for t in results["targets"])
    assert "engine / baseline" in done.stdout and any(v in done.stdout for v in ("PASS", "FAIL"))


def test_engine_micro_benchmark_runs() -> None:
    """`python -m benchmarks.engine_micro`: the engine alone walks the lesson script and prints its CPU per update."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.engine_micro", "--people", "5", "--rounds", "3"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "15 updates:" in done.stdout and "ms CPU per update" in done.stdout


def test_turns_add_up_to_one_result() -> None:
    """Updates/s over every turn is all the updates over all the seconds, not an average of the turns' rates."""
    def turn(answered: int, seconds: float, cpu_ms: float, p99: float,
             latency: dict[str, float] | None) -> dict[str, Any]:
        return {"saturated": {"answered": answered, "seconds": seconds, "per_second": answered / seconds,
                              "p50_ms": 10.0, "p99_ms": p99, "max_ms": p99 + 1, "off_script": 0, "stalled": 0},
                "bot_cpu_share": 1.0, "fake_cpu_share": 0.2, "driver_cpu_share": 0.1, "bot_cpu_ms_per_update": cpu_ms,
                "peak_rss_mb": 100.0 + answered, "startup_s": seconds, "latency": latency, "exit_code": 0}

    merged = runs.combine([turn(100, 1.0, 2.0, 50.0, None), turn(300, 2.0, 4.0, 30.0, {"p99_ms": 9.0})])
    assert merged["saturated"]["answered"] == 400 and merged["saturated"]["per_second"] == round(400 / 3, 1)
    assert merged["bot_cpu_ms_per_update"] == 3.5  # (100 × 2 + 300 × 4) / 400
    assert merged["saturated"]["p99_ms"] == 50.0 and merged["peak_rss_mb"] == 400.0
    assert merged["latency"] == {"p99_ms": 9.0} and merged["startup_s"] == 1.0
    assert merged["turns"] == [{"per_second": 100.0, "bot_cpu_ms_per_update": 2.0},
                               {"per_second": 150.0, "bot_cpu_ms_per_update": 4.0}]


def test_api_calls_benchmark_runs() -> None:
    """`python -m benchmarks.api_calls`: CPU per call, PTB's methods and the JSON calls, against the fake."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.api_calls", "--calls", "20", "--rounds", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sendMessage, PTB" in done.stdout and "sendMessage, JSON" in done.stdout
