"""The `hocvuso` command refuses a half-configured deployment with a clear message, not a traceback."""

from __future__ import annotations

import asyncio
import gc
import pathlib
import sys

import pytest
from pydantic import ValidationError

from bot.cli import loop_runner, main
from bot.settings import Settings


@pytest.mark.parametrize(("env", "message"), [
    ({}, "HOCVUSO_COMMUNE"),
    ({"HOCVUSO_COMMUNE": "xã Thử"}, "HOCVUSO_HAMLETS"),
    ({"HOCVUSO_COMMUNE": "xã Thử", "HOCVUSO_HAMLETS": "Xóm 1", "HOCVUSO_WEB_CHAT": "false"}, "No channel"),
    ({"HOCVUSO_COMMUNE": "xã Thử", "HOCVUSO_HAMLETS": "Xóm 1", "HOCVUSO_TELEGRAM_TOKEN": "1:x",
      "HOCVUSO_PUBLIC_URL": "https://bot.example.vn"}, "HOCVUSO_WEBHOOK_SECRET"),
])
def test_run_explains_what_to_set(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str], env: dict[str, str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("HOCVUSO_COMMUNE", "HOCVUSO_HAMLETS", "HOCVUSO_TELEGRAM_TOKEN", "HOCVUSO_ZALO_TOKEN",
                 "HOCVUSO_PUBLIC_URL", "HOCVUSO_WEB_CHAT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOCVUSO_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert gc.isenabled()  # start-up turns the collector off; a refused start-up turns it back on
    assert "1:x" not in err  # a token never shows up in messages


def test_the_app_runs_on_uvloop_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    loops: list[str] = []

    async def probe() -> None:
        loops.append(type(asyncio.get_running_loop()).__module__)

    monkeypatch.delenv("HOCVUSO_EVENT_LOOP", raising=False)  # the default, whatever the shell has set
    loop_runner(Settings().event_loop)(probe())
    monkeypatch.setenv("HOCVUSO_EVENT_LOOP", "asyncio")
    loop_runner(Settings().event_loop)(probe())
    assert loops[0].startswith("uvloop") and loops[1].startswith("asyncio")
    monkeypatch.setenv("HOCVUSO_EVENT_LOOP", "trio")
    with pytest.raises(ValidationError):
        Settings()


def test_without_uvloop_installed_the_standard_loop_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` now fails, as where it is not installed
    assert loop_runner("uvloop") is asyncio.run


def test_start_up_runs_without_the_garbage_collector_and_serving_with_it(tmp_path: pathlib.Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`hocvuso run` turns the cyclic collector off while it imports, loads and migrates; once the app serves, what
    start-up made is frozen and the collector is back on."""
    from bot import app as app_module
    from bot import cli
    from tests.channels.telegram_helpers import free_port
    from tests.harness import settings_for

    events: list[tuple[str, bool]] = []
    real_serve = app_module.App.serve

    async def serve(self: app_module.App) -> None:
        events.append(("serve", gc.isenabled()))
        await real_serve(self)

    class Collector:  # the app's gc, watched; back on, the test stops the app as a Ctrl-C would
        @staticmethod
        def freeze() -> None:
            events.append(("freeze", gc.isenabled()))

        @staticmethod
        def enable() -> None:
            events.append(("enable", gc.isenabled()))
            gc.enable()
            raise KeyboardInterrupt

    monkeypatch.setattr(app_module.App, "serve", serve)
    monkeypatch.setattr(app_module, "gc", Collector)
    settings = settings_for(tmp_path / "gc.db", web_chat=True, port=free_port(), host="127.0.0.1")
    try:
        assert cli._run(settings) == 0
    finally:
        gc.enable()
    assert events == [("serve", False), ("freeze", False), ("enable", False)]
    assert gc.isenabled()
