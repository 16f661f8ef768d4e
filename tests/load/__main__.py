"""`python -m tests.load [--people 500] [--seconds 60] [--database-url URL] [--workdir DIR] [--stall-after S]`.

The load test on its own (tests/load/driver.py). Without --database-url it runs on a SQLite file; --workdir keeps
that file and the bot's log (bot.log) there instead of in a temporary folder. Prints the summary; exits 1 on any
problem.
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import sys
import tempfile

from tests.load.driver import run_load
from tests.load.result import LoadResult


async def run(arguments: argparse.Namespace, workdir: pathlib.Path) -> LoadResult:
    url = arguments.database_url or f"sqlite+aiosqlite:///{workdir / 'bot.db'}"
    return await run_load(url, workdir, people=arguments.people, seconds=arguments.seconds,
                          stall_after=arguments.stall_after)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load")
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--database-url", help="e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/loadtest "
                                               "(an empty database: it is migrated)")
    parser.add_argument("--workdir", type=pathlib.Path, help="keep the SQLite file and bot.log here")
    parser.add_argument("--stall-after", type=float, help="seconds without any answer that count as stuck")
    arguments = parser.parse_args()
    if arguments.workdir is not None:
        arguments.workdir.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(run(arguments, arguments.workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="hocvuso-load-") as folder:
            result = asyncio.run(run(arguments, pathlib.Path(folder)))
    print(result.summary())
    problems = result.problems()
    for problem in problems[:20]:
        print(f"  {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
