"""`python -m benchmarks`: every figure of issue 10 in one run, on one fake Bot API process, then PASS/FAIL.

    python -m benchmarks                 # 200 people, 5,000 updates, 100,000-person stats DB, 1,000 recipients
    python -m benchmarks --quick         # a small fast run (a smoke test; its figures are not the targets')
    python -m benchmarks --json out.json --profile prof/   # also a py-spy profile of the saturated engine
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import shutil
import sys
import tempfile
import time
import traceback
from typing import Any

from benchmarks import report, runs, stats
from benchmarks.fake import FakeApi

PHASES = ("baseline", "engine", "broadcast", "fresh", "stats", "startup")
DEFAULT_PHASES = PHASES  # the start-up targets are the medians of the startup phase's spawns (one spawn is noisy)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small and fast: 10 people, 100 updates, …")
    parser.add_argument("--people", type=int, help="simulated people (default 200; quick 10)")
    parser.add_argument("--updates", type=int, help="updates in each saturated phase (default 5,000; quick 100)")
    parser.add_argument("--turns", type=int,
                        help="the baseline and the engine take turns this many times, each turn with its share of "
                             "the updates, so that a machine whose speed drifts during the run affects both alike "
                             "(default 3; quick 1)")
    parser.add_argument("--rate", type=float, help="offered updates/s of the latency phase (default 100)")
    parser.add_argument("--latency-seconds", type=float, help="length of the latency phase (default 30; quick 1.5)")
    parser.add_argument("--stats-people", type=int, help="people in the stats DB (default 100,000; quick 2,000)")
    parser.add_argument("--stats-events", type=int, help="progress events in it (default 2,000,000; quick 40,000)")
    parser.add_argument("--recipients", type=int, help="broadcast recipients (default 1,000; quick 50)")
    parser.add_argument("--broadcast-per-second", type=float, default=30.0,
                        help="HOCVUSO_BROADCAST_PER_SECOND of the broadcast run (default 30, Telegram's limit)")
    parser.add_argument("--only", default=",".join(DEFAULT_PHASES),
                        help=f"comma-separated phases of {', '.join(PHASES)} (default all)")
    parser.add_argument("--startup-runs", type=int,
                        help="spawns of each kind in the startup phase (default 5; quick 2)")
    parser.add_argument("--cache", type=pathlib.Path, default=stats.CACHE, help="where generated stats DBs are kept")
    parser.add_argument("--json", type=pathlib.Path, help="write the results here")
    parser.add_argument("--profile", type=pathlib.Path, help="py-spy the engine's saturated phase into this folder")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (databases and process logs)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--what-if", action="append", default=[], metavar="CHANGES",
                        help="also run the engine with proposed changes applied from outside the app "
                             "(benchmarks/whatif.py, e.g. count-sql); reported apart from the targets")
    return parser.parse_args(argv)


def config(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    return {
        "quick": quick,
        "people": args.people or (10 if quick else 200),
        "updates": args.updates or (100 if quick else 5_000),
        "turns": max(1, args.turns or (1 if quick else 3)),
        "warmup_per_person": 1 if quick else 2,
        "rate": args.rate or 100.0,
        "latency_seconds": args.latency_seconds or (1.5 if quick else 30.0),
        "stats_people": args.stats_people or (2_000 if quick else 100_000),
        "stats_events": args.stats_events or (40_000 if quick else 2_000_000),
        "stats_repeat": 1 if quick else 3,
        "recipients": args.recipients or (50 if quick else 1_000),
        "broadcast_per_second": args.broadcast_per_second,
        "stall_after": 20.0 if quick else 60.0,
        "phases": [p for p in args.only.split(",") if p],
        "startup_runs": args.startup_runs or (2 if quick else 5),
        "what_if": list(args.what_if),
    }


async def measure(cfg: dict[str, Any], work: pathlib.Path, cache: pathlib.Path,
                  profile: pathlib.Path | None) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": report.machine(), "config": cfg, "errors": {}}
    turns = cfg["turns"]
    load = runs.Load(people=cfg["people"], updates=max(1, cfg["updates"] // turns),
                     warmup_per_person=cfg["warmup_per_person"], rate=cfg["rate"],
                     latency_seconds=cfg["latency_seconds"], stall_after=cfg["stall_after"])
    phases = cfg["phases"]

    async def phase(name: str, body: Any) -> None:
        if name.split(":")[0].split("#")[0].removesuffix("_aiohttp") not in [*phases, "what_if"]:
            body.close()
            return
        started = time.monotonic()
        print(f"… {name}", file=sys.stderr, flush=True)
        try:
            results[name if name != "fresh" else "fresh_start"] = await body
        except Exception as exc:
            traceback.print_exc()
            results["errors"][name] = f"{type(exc).__name__}: {exc}"
        print(f"  {name}: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)

    fake = await FakeApi.start()
    try:
        # Turns: baseline, engine, baseline, engine, … each on its share of the updates (a fresh database and a
        # fresh process each time); the paced phase and the profile come with the last engine turn.
        for turn in range(turns):
            last = turn == turns - 1
            await phase(f"baseline#{turn}", runs.baseline(fake, work, load))
            await phase(f"engine#{turn}", runs.engine(fake, work, load, profile / "engine.txt" if profile and last
                                                      else None, paced=last))
        for bot in ("baseline", "engine"):
            done = [results.pop(f"{bot}#{turn}") for turn in range(turns) if f"{bot}#{turn}" in results]
            if len(done) == turns:  # a turn that failed is in results["errors"]; no combined figure then
                results[bot] = runs.combine(done)
        await phase("baseline_aiohttp", runs.baseline(fake, work, load, "aiohttp"))
        for changes in cfg["what_if"]:
            out = profile / f"engine-{changes}.txt" if profile else None
            await phase(f"what_if:{changes}", runs.engine(fake, work, load, out, changes))
        await phase("broadcast", runs.broadcast(fake, work, cfg["recipients"], cfg["broadcast_per_second"]))
        await phase("fresh", runs.fresh_startup(fake, work))
        await phase("startup", runs.startup(fake, work, cfg["startup_runs"]))
    finally:
        await fake.close()

    async def statistics() -> dict[str, Any]:
        db, generated = await stats.ensure_db(cfg["stats_people"], cfg["stats_events"], cache)
        figures = await stats.run(db, cfg["stats_repeat"], work / "stats.log")
        return {**figures, "db": str(db), "generated_in_s": None if generated is None else round(generated, 1)}

    await phase("stats", statistics())
    base = (results.get("baseline") or {}).get("saturated") or {}
    same = (results.get("baseline_aiohttp") or {}).get("saturated") or {}
    engine_rate = ((results.get("engine") or {}).get("saturated") or {}).get("per_second")
    if engine_rate and same.get("per_second"):
        results["ratio_same_transport"] = round(engine_rate / same["per_second"], 3)
    for key in ["engine", *(f"what_if:{changes}" for changes in cfg["what_if"])]:
        engine = (results.get(key) or {}).get("saturated") or {}
        if engine.get("per_second") and base.get("per_second"):
            ratio = round(engine["per_second"] / base["per_second"], 3)
            if key == "engine":
                results["ratio"] = ratio
                pairs = zip((results["engine"].get("turns") or []), (results["baseline"].get("turns") or []),
                            strict=False)
                results["ratio_by_turn"] = [round(e["per_second"] / b["per_second"], 3) for e, b in pairs]
            else:
                results[key]["ratio"] = ratio
    results["targets"] = report.verdicts(results)
    results["machine"]["loadavg_at_end"] = report.machine().get("loadavg_at_start")
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    cfg = config(args)
    unknown = set(cfg["phases"]) - set(PHASES)
    if unknown:
        print(f"unknown phase(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    work = pathlib.Path(tempfile.mkdtemp(prefix="hocvuso-bench-"))
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    try:
        results = asyncio.run(measure(cfg, work, args.cache, args.profile))
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(report.table(results))
    if results["errors"]:
        print("\nerrors: " + json.dumps(results["errors"], ensure_ascii=False), file=sys.stderr)
    if args.json is not None:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    if results["errors"]:
        return 1
    if args.check and any(t["verdict"] == "FAIL" for t in results["targets"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
