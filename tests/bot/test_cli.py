"""The `hocvuso` command refuses a half-configured deployment with a clear message, not a traceback."""

from __future__ import annotations

import pathlib

import pytest

from bot.cli import main


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
    assert "1:x" not in err  # a token never shows up in messages
