"""Shared by the security tests: the real app (bot.app.build, a migrated SQLite file, the real engine and
handlers) on its real HTTP routes, snapshots of every table, what a polite answer looks like, and the
hypothesis strategies that make up bad input.

Hypothesis runs derandomized (the same examples every run, no .hypothesis/ database), so the suite is
stable; `HOCVUSO_FUZZ=1 .venv/bin/pytest tests/security` explores with fresh random examples, ten times
as many.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import pathlib
import shutil
import tempfile
import time
import unicodedata
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import exists, func, select

import storage.models_commune
import storage.models_help
from bot.app import App, build
from bot.engine import SORRY
from storage import migrate
from storage.db import create_engine, session_factory
from storage.models import Base, ConsentRecord, Person
from tests.channels.telegram_helpers import free_port, start_bot
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_api import FakeZalo
from tests.harness import TEST_LESSONS, settings_for

assert storage.models_commune and storage.models_help  # imported for their tables in Base.metadata

TG_SECRET = "tg-webhook-secret-0123456789"
ZALO_SECRET = "zalo-webhook-secret-0123"
TG_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ZALO_HEADER = "X-Bot-Api-Secret-Token"
TG_LIMIT = 4096
ZALO_LIMIT = 2000
FUZZ = os.environ.get("HOCVUSO_FUZZ") == "1"


def fuzz(max_examples: int, *, shrink: bool = True) -> settings:
    """Modest, deterministic hypothesis settings; `shrink=False` for properties expected to fail (xfail),
    so a known failure is reported at once instead of being minimised request by request."""
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(max_examples=max_examples * (10 if FUZZ else 1), deadline=None, derandomize=not FUZZ,
                    database=None, phases=phases, print_blob=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                           HealthCheck.large_base_example])


# ---- the app --------------------------------------------------------------------------------------

def lessons_for(folder: pathlib.Path) -> pathlib.Path:
    """The small test track "thu" (bai-thu: steps mot, hai (typed answer 50.000), ba (done-check), a quiz),
    copied: other tests may add lessons to tests/data."""
    target = folder / "lessons"
    if not target.exists():
        (target / "thu").mkdir(parents=True)
        for name in ("track.yaml", "bai-thu.yaml", "bai-hai.yaml"):
            shutil.copy(TEST_LESSONS / "thu" / name, target / "thu" / name)
    return target


_template: pathlib.Path | None = None


async def fresh_db(folder: pathlib.Path) -> pathlib.Path:
    """`folder/bot.db`, migrated: a copy of one database migrated once per run (migrating takes ~0.2 s)."""
    global _template
    if _template is None or not _template.exists():
        home = pathlib.Path(tempfile.mkdtemp(prefix="hocvuso-security-"))
        atexit.register(shutil.rmtree, home, True)
        engine = create_engine(f"sqlite+aiosqlite:///{home / 'template.db'}")
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()
        _template = home / "template.db"
    target = folder / "bot.db"
    shutil.copyfile(_template, target)
    return target


@contextlib.asynccontextmanager
async def telegram_app(folder: pathlib.Path) -> AsyncIterator[tuple[App, FakeTelegram]]:
    """The app serving Telegram by webhook on a free port; the fake Bot API answers setWebhook and records replies."""
    fake = FakeTelegram()
    await fake.start()
    port = free_port()
    app = await start_bot(await fresh_db(folder), fake, port=port, public_url=f"http://127.0.0.1:{port}",
                          webhook_secret=SecretStr(TG_SECRET), lessons_dir=lessons_for(folder))
    try:
        # The command menus are set in the background at start-up: done before a test counts the bot's calls.
        for _ in range(500):
            if any(call.method == "setMyCommands" for call in fake.calls):
                break
            await asyncio.sleep(0.01)
        yield app, fake
    finally:
        await app.close()
        await fake.stop()


@contextlib.asynccontextmanager
async def zalo_app(folder: pathlib.Path, **extra: Any) -> AsyncIterator[tuple[App, FakeZalo]]:
    fake = FakeZalo()
    await fake.start()
    port = free_port()
    settings_ = settings_for(await fresh_db(folder), **({
        "zalo_token": SecretStr(fake.token), "zalo_api_url": fake.root, "host": "127.0.0.1", "port": port,
        "public_url": f"http://127.0.0.1:{port}", "webhook_secret": SecretStr(ZALO_SECRET),
        "lessons_dir": lessons_for(folder)} | extra))
    app = await build(settings_)
    try:
        await app.serve()
        yield app, fake
    finally:
        await app.close()
        await fake.stop()


@contextlib.asynccontextmanager
async def web_app(folder: pathlib.Path) -> AsyncIterator[tuple[App, TestClient[Any, Any]]]:
    app = await build(settings_for(await fresh_db(folder), web_chat=True, lessons_dir=lessons_for(folder)))
    client: TestClient[Any, Any] = TestClient(TestServer(app.web_app))
    await client.start_server()
    try:
        yield app, client
    finally:
        await client.close()
        await app.close()


def url_of(app: App, path: str) -> str:
    return f"http://127.0.0.1:{app.settings.port}{path}"


async def post_raw(http: aiohttp.ClientSession, url: str, data: bytes, headers: dict[str, str]) -> int:
    async with http.post(url, data=data, headers={"Content-Type": "application/json", **headers}) as response:
        await response.read()
        return response.status


def as_json(body: Any) -> bytes:
    return json.dumps(body).encode()


# ---- what a well-behaved answer and a clean database look like --------------------------------------

VIETNAMESE = set("ạảãáàâầấậẩẫăằắặẳẵđêềếệểễẹẻẽéèôồốộổỗơờớợởỡọỏõóòưừứựửữụủũúùịỉĩíìỵỷỹýỳ")


def impoliteness(text: str, limit: int) -> str | None:
    """Why `text` is not a polite Vietnamese message a villager may read; None when it is."""
    if not text.strip():
        return "empty message"
    if unicodedata.normalize("NFC", text) != text:
        return "not NFC"
    if len(text) > limit:
        return f"{len(text)} characters, over the platform's {limit}"
    if SORRY in text:
        return "the engine's apology: a handler raised"
    if not VIETNAMESE & set(text.lower()):
        return "no Vietnamese in it"
    if "Traceback" in text or "Exception" in text:
        return "an error leaked into the text"
    return None


def impolite(texts: Iterable[str], limit: int) -> list[tuple[str, str]]:
    return [(why, text[:120]) for text in texts if (why := impoliteness(text, limit)) is not None]


def logged_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    found = []
    for record in caplog.records:
        if record.levelno >= logging.ERROR:
            kind = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
            found.append(f"{record.name}: {record.getMessage()[:160]} {kind}".strip())
    return found


TABLES = [table for table in Base.metadata.sorted_tables if table.name != "alembic_version"]


async def table_counts(app: App) -> dict[str, int]:
    async with session_factory(app.db)() as session:
        return {table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
                for table in TABLES}


async def half_written(app: App) -> list[str]:
    """Rows that cannot exist on their own: a person with no granted consent to learn (people rows are
    created only together with an "Đồng ý" consent record)."""
    granted = exists().where(ConsentRecord.person_ref == Person.ref, ConsentRecord.purpose == "learning",
                             ConsentRecord.granted.is_(True))
    async with session_factory(app.db)() as session:
        refs = list(await session.scalars(select(Person.ref).where(~granted)))
    return [f"people row {ref!r} without consent" for ref in refs]


async def person_row(app: App, ref: str) -> Person | None:
    async with session_factory(app.db)() as session:
        return (await session.scalars(select(Person).where(Person.ref == ref))).first()


# ---- bad input ------------------------------------------------------------------------------------

def clear_of_known_defects(text: str) -> bool:
    """Once False for inputs hitting D1 (non-decimal digits read with isdigit() then int()) and D2 (numbers too
    large for SQLite); both are fixed at the Inbound boundary, so every input is fair game now."""
    return True


NFD_VIETNAMESE = unicodedata.normalize("NFD", "Đồng ý, cháu muốn học bài Quét mã QR")
MEGABYTE_TEXT = ("xin chao bac " * 80_000)[:1_000_000]  # ASCII, so the JSON body stays under 1 MiB
ODD_TEXTS = [
    "", " ", "\n\n", "\u202eolleh", "a\u202eb\u202dc", "\u200f\u200e\u2066x\u2069", "a\x00b", "\x1b[31mđỏ\x1b[0m",
    "\x07\x08\x0b\x0c\x7f", "🙂" * 200, "👨‍👩‍👧‍👦🏳️‍🌈", "\ufeffđồng ý", NFD_VIETNAMESE, "x" * 5000, "ấ" * 3000,
    "/start " + "x" * 300, "/start ../../etc/passwd", "/start xom-1' OR '1'='1", "/xoadulieu extra",
    "/nhan abc", "/nhan -1", "/nhan #", "/tnv ' OR 1=1 --", "/canbo '; DROP TABLE people; --", "/xong 0",
    "/START", "/start@hocvuso_test_bot", "/start@other_bot", "/", "//", "/ start", "/" + "a" * 300, "/🙂",
    "<b>đậm</b><script>alert(1)</script>", "**đậm** __x__ `y`", "&amp;&lt;&", "%s %d {0} {{x}}", "${jndi:x}",
    "1", "0", "-1", "00001", "1.5", "1e9", "٣", "menu", "MENU", "dong y", "không", "50.000", "tat ca",
    "\t/menu\t", "NULL", "None", "true", "[]", "{}",
]
COMMAND_WORDS = ["start", "menu", "xoadulieu", "dulieucuatoi", "nhan", "tnv", "canbo", "xong", "ca", "hoc",
                 "tiendo", "thongbao", "moitnv", "doixom", "toi", "help", "xacminh", "lich", "thi", "nope"]


def junk_text(*, allow: Iterable[str] = ()) -> st.SearchStrategy[str]:
    """Random text, odd texts, and commands followed by junk."""
    blocked = set(allow)
    odd = [text for text in ODD_TEXTS if not any(word in text for word in blocked)] if blocked else ODD_TEXTS
    return st.one_of(
        st.text(max_size=200),
        st.sampled_from(odd),
        st.builds(lambda word, rest: f"/{word} {rest}", st.sampled_from(COMMAND_WORDS), st.text(max_size=60)),
    ).filter(clear_of_known_defects)


def cut64(text: str) -> str:
    return text.encode()[:64].decode(errors="ignore")


FORGED_DATA = ["consent:yes:0", "consent:yes:x", "consent:maybe", "hamlet:999", "hamlet:-1", "hamletpage:9999",
               "claim:1", "done:1", "quick:1", "canned:1:99", "meet:1", "next:bai-thu:khong-co", "next:x:y",
               "did:bai-thu:mot:y", "again:bai-thu", "ans:bai-thu:q1:9", "ans:bai-thu:q9:0", "ans:::",
               "pick:bai-thu:mot:",
               "lesson:../../etc/passwd", "lesson:", "track:thu:-5", "menu:x", "erase:no", "erase:", "rate:1:9",
               "reopen:1", "phone:1", "bcsend:1", "mentorok:yes", "cert:1", "ms:x", ":", "::::", "x" * 64, "é" * 32,
               "\u202emenu", "menu\x00", " menu", "MENU"]


def callback_data(prefixes: Iterable[str], *, exclude: Iterable[str] = ()) -> st.SearchStrategy[str]:
    """What a forged or stale button may carry: random bytes of text up to 64, and router prefixes with junk."""
    banned = tuple(exclude)
    return st.one_of(
        st.text(max_size=64).map(cut64),
        st.builds(lambda prefix, rest: cut64(f"{prefix}:{rest}"), st.sampled_from(sorted(prefixes)),
                  st.text(max_size=40)),
        st.sampled_from(FORGED_DATA),
    ).filter(lambda data: clear_of_known_defects(data) and not data.startswith(banned))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


def now() -> int:
    return int(time.time())


# ---- a small file server for Zalo photo_url downloads ----------------------------------------------

class Files:
    """Serves what a photo_url may point at: a web page, 50 MB (with and without Content-Length), a
    redirect loop, an empty body, a 404."""

    FIFTY_MB = 50 * 1024 * 1024

    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None
        self.root = ""
        self.bytes_sent = 0

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/page.jpg", self._page)
        app.router.add_get("/big.jpg", self._big)
        app.router.add_get("/big-stream.jpg", self._big_stream)
        app.router.add_get("/loop.jpg", self._loop)
        app.router.add_get("/empty.jpg", self._empty)
        self.runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.root = f"http://127.0.0.1:{port}"
        return self.root

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text="<html><body><script>alert('x')</script>Không phải ảnh</body></html>",
                            content_type="text/html")

    async def _stream(self, request: web.Request, *, with_length: bool) -> web.StreamResponse:
        headers = {"Content-Type": "image/jpeg"}
        if with_length:
            headers["Content-Length"] = str(self.FIFTY_MB)
        response = web.StreamResponse(headers=headers)
        if not with_length:
            response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"\xff\xd8\xff\xe0" + b"\x00" * (256 * 1024 - 4)
        with contextlib.suppress(ConnectionError, RuntimeError):
            for _ in range(self.FIFTY_MB // len(chunk)):
                await response.write(chunk)
                self.bytes_sent += len(chunk)
        return response

    async def _big(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, with_length=True)

    async def _big_stream(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, with_length=False)

    async def _loop(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop.jpg")

    async def _empty(self, request: web.Request) -> web.Response:
        return web.Response(body=b"", content_type="image/jpeg")
