"""Child processes: the bot, the baseline echo bot, the fake API, the stats worker; their CPU time and peak RSS.

CPU time and peak RSS come from /proc (Linux): `VmHWM` is the kernel's high-water mark of the resident set, so the
peak is exact, not sampled. Elsewhere they read as None.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import signal
import sys
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def hocvuso_command() -> list[str]:
    """`hocvuso` as installed next to this interpreter, else the same CLI through -m."""
    script = pathlib.Path(sys.executable).with_name("hocvuso")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


@dataclass
class Proc:
    name: str
    process: asyncio.subprocess.Process
    started_at: float  # time.monotonic() just before the spawn
    profiler: asyncio.subprocess.Process | None = None

    @classmethod
    async def spawn(cls, name: str, argv: list[str], *, env: dict[str, str] | None = None,
                    cwd: pathlib.Path | None = None, stdout: bool = False, log: pathlib.Path | None = None) -> Proc:
        loop = asyncio.get_running_loop()
        out: int | None = asyncio.subprocess.PIPE if stdout else None
        err = None
        if log is not None:
            handle = log.open("ab")
            err = handle.fileno()
            out = out or handle.fileno()
        started = loop.time()
        process = await asyncio.create_subprocess_exec(*argv, env=with_bytecode(env), cwd=cwd, stdout=out,
                                                       stderr=err, start_new_session=True)
        if log is not None:
            handle.close()
        return cls(name=name, process=process, started_at=started)

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds the process has used so far."""
        try:
            fields = pathlib.Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def peak_rss_mb(self) -> float | None:
        """The largest resident set the process has had (VmHWM), in MB."""
        try:
            for line in pathlib.Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def alive(self) -> bool:
        return self.process.returncode is None

    async def profile(self, out: pathlib.Path, *, rate: int = 200) -> None:
        """Sample this process with py-spy until it stops: collapsed stacks, one per thread (read them with
        `python -m benchmarks.profiles FILE`, or draw a flame graph with flamegraph.pl / speedscope.app)."""
        spy = pathlib.Path(sys.executable).with_name("py-spy")
        if not spy.exists():
            raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.profiler = await asyncio.create_subprocess_exec(
            str(spy), "record", "--pid", str(self.pid), "--rate", str(rate), "--format", "raw",
            "--threads", "--output", str(out), "--nonblocking", stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)

    async def stop(self, grace: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not stop within `grace` seconds; returns the exit code."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        if self.profiler is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.profiler.wait(), 30)
        return self.process.returncode


BYTECODE = pathlib.Path(__file__).resolve().parent / ".cache" / "pycache"


def with_bytecode(env: dict[str, str] | None) -> dict[str, str]:
    """Processes keep compiled bytecode (in benchmarks/.cache/pycache), as an installed service does: a shell with
    PYTHONDONTWRITEBYTECODE=1 would otherwise have every start compile ~90 modules again (70-110 ms)."""
    result = dict(os.environ if env is None else env)
    result.pop("PYTHONDONTWRITEBYTECODE", None)
    result["PYTHONPYCACHEPREFIX"] = str(BYTECODE)
    return result
