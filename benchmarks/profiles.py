"""Summarise a py-spy profile (collapsed stacks, `--format raw`): where the samples are, by package and function.

    python -m benchmarks.profiles prof/engine.txt [--top 30]
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import re

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
GROUPS = [("sqlalchemy", "SQLAlchemy"), ("aiosqlite", "aiosqlite"), ("sqlite3", "sqlite3"), ("telegram/", "PTB"),
          ("httpx", "httpx"), ("httpcore", "httpcore"), ("pydantic", "pydantic"), ("asyncio", "asyncio"),
          ("aiohttp", "aiohttp"), ("/bot/", "bot/"), ("/handlers/", "handlers/"), ("/storage/", "storage/"),
          ("/lessons/", "lessons/"), ("json", "json"), ("logging", "logging"), ("threading", "threading")]


def _group(file: str) -> str:
    for needle, name in GROUPS:
        if needle in file:
            return name
    return "other"


def summarise(path: pathlib.Path, top: int = 25) -> str:
    by_thread: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    groups: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread, frames = (frames[0], frames[1:]) if frames[0].startswith(("thread", "process")) else ("", frames)
        by_thread[thread] += count
        total += count
        seen = set()
        for frame in frames:
            if frame not in seen:
                inclusive[frame] += count
                seen.add(frame)
        if frames:
            own[frames[-1]] += count
            match = _FRAME.match(frames[-1])
            groups[_group(match.group("file") if match else frames[-1])] += count
    lines = [f"{total} samples"]
    lines += [f"  {n / total:6.1%}  {t or '(one thread)'}" for t, n in by_thread.most_common(8)]
    lines += ["", "self time by package (the innermost Python frame's file):"]
    lines += [f"  {n / total:6.1%}  {g}" for g, n in groups.most_common()]
    lines += ["", "self time by function:"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive time by function:"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=pathlib.Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(summarise(args.profile, args.top))


if __name__ == "__main__":
    main()
