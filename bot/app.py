"""Wiring: settings → database (migrated) → lessons → engine → channels → one aiohttp server.

The only module that imports handlers/.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import verify_page
from bot.channels.base import ChannelEnv, Service
from bot.channels.web import WebChannel
from bot.context import Community
from bot.engine import Engine
from bot.media import vietqr
from bot.messages import Inbound
from bot.ratelimit import FloodGuard
from bot.routing import Router
from bot.settings import ConfigError, Settings
from handlers import common
from handlers.stats import next_report_time
from lessons import catalog as lesson_catalog
from storage import migrate
from storage.db import create_engine, session_factory
from storage.jobs import JobsRepo
from storage.locking import lock_person
from storage.models import utcnow
from storage.places import PlacesRepo

log = logging.getLogger(__name__)


def build_router() -> Router:
    router = Router()
    router.include(common.router)
    return router


@dataclass
class App:
    settings: Settings
    db: AsyncEngine
    engine: Engine
    web_app: web.Application
    web_channel: WebChannel | None
    services: list[Service] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    async def serve(self) -> None:
        """Start the HTTP server, the channels, then the outbox sweep, which begins by delivering what an
        earlier run left undelivered (in the background: a slow platform must not delay taking updates)."""
        await ensure_monthly_report(self.engine)
        self.runner = web.AppRunner(self.web_app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.settings.host, self.settings.port,
                           reuse_port=self.settings.reuse_port or None)
        await site.start()
        for service in self.services:  # after the server is up: a webhook must be reachable when set
            await service.start()
        self.tasks.append(asyncio.create_task(self.engine.sweep_forever(), name="outbox-sweep"))
        self.tasks.append(asyncio.create_task(self.engine.broadcast_forever(self.settings.broadcast_per_second),
                                              name="broadcasts"))
        log.info("hocvuso ready on http://%s:%s", self.settings.host, self.settings.port)

    async def close(self) -> None:
        await self.engine.drain()  # replies already committed go out before the channels stop
        for service in self.services:
            try:
                await service.stop()
            except Exception:
                log.exception("stopping the %s channel failed", service.name)
        await self.engine.drain()
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks)  # not `await task`: their cancellation must not cancel this close
        await self.engine.drain()  # a send the sweep had begun finishes, and its row is forgotten, before dispose
        if self.runner is not None:
            await self.runner.cleanup()
        await self.db.dispose()


async def build(settings: Settings) -> App:
    if not settings.commune:
        raise ConfigError("Set HOCVUSO_COMMUNE (e.g. \"xã Bạch Ngọc\") and HOCVUSO_HAMLETS, or run `hocvuso demo`.")
    if not settings.hamlet_names:
        raise ConfigError("Set HOCVUSO_HAMLETS to the commune's hamlets, comma-separated: \"Xóm 1,Xóm 2\".")
    catalog = lesson_catalog.load(settings.lessons_dir or lesson_catalog.CONTENT)
    db = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    await migrate.upgrade(db)
    sessions = session_factory(db)
    async with sessions() as session, session.begin():
        commune = await PlacesRepo(session).ensure_commune(settings.commune, settings.hamlet_names)
        community = Community(commune_id=commune.id, commune_name=commune.name,
                              timezone=ZoneInfo(settings.timezone),
                              help_to_all_mentors=dt.timedelta(minutes=settings.help_all_mentors_minutes),
                              help_to_officials=dt.timedelta(minutes=settings.help_officials_minutes),
                              invite_ttl=dt.timedelta(days=settings.invite_days),
                              help_retention=dt.timedelta(days=settings.help_retention_days),
                              practice_account=_practice_account(settings.practice_account),
                              public_url=settings.public_url,
                              telegram_username=settings.telegram_bot_username.lstrip("@"),
                              zalo_link=settings.zalo_link,
                              privacy_salt=settings.privacy_key(), privacy_retention=settings.privacy_retention())
    router = build_router()
    engine = Engine(sessions, router, catalog, community,
                    flood=FloodGuard(settings.flood_limit, settings.flood_window_seconds))
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app.router.add_get("/healthz", _healthz(db))
    verify_page.register(web_app, sessions)
    web_channel: WebChannel | None = None
    if settings.web_chat:
        web_channel = WebChannel()
        web_channel.bind(engine.handle)
        web_channel.routes(web_app)
        engine.add_channel(web_channel)

    async def handle_in_background(inbound: Inbound) -> bool:
        return await engine.handle(inbound, wait_delivery=False)

    env = ChannelEnv(settings=settings, handle=handle_in_background, sessions=sessions,
                     command_menu=router.command_menu)
    services: list[Service] = []
    try:
        channels = platform_channels(env)
    except Exception:
        await db.dispose()
        raise
    for channel in channels:
        channel.routes(web_app)
        engine.add_channel(channel)
        services.append(channel)
    return App(settings=settings, db=db, engine=engine, web_app=web_app, web_channel=web_channel,
               services=services)


async def ensure_monthly_report(engine: Engine) -> None:
    """The report for the 10th is a durable job that schedules its successor; the first one is made here."""
    async with engine.sessions() as session, session.begin():
        await lock_person(session, "system:monthly-report")  # workers starting together make one job, not two
        jobs = JobsRepo(session)
        if await jobs.pending("monthly_report") is None:
            await jobs.schedule("monthly_report", next_report_time(utcnow(), engine.community.timezone), {})


def platform_channels(env: ChannelEnv) -> list[Any]:
    """The messengers this deployment has tokens for."""
    channels: list[Any] = []
    if env.settings.telegram_token is not None:
        from bot.channels.telegram import TelegramChannel

        channels.append(TelegramChannel(env))
    if env.settings.zalo_token is not None:
        from bot.channels.zalo import ZaloChannel

        channels.append(ZaloChannel(env))
    return channels


def _practice_account(spec: str) -> tuple[str, str, str] | None:
    if not spec.strip():
        return None
    try:
        return vietqr.parse_practice_account(spec)
    except vietqr.VietQRError as exc:
        raise ConfigError(f"HOCVUSO_PRACTICE_ACCOUNT is not BIN:account:NAME ({exc.reason}), "
                          "e.g. 970405:1234567890:UBND XA BACH NGOC") from None


def _healthz(db: AsyncEngine) -> Callable[[web.Request], Awaitable[web.Response]]:
    """/healthz for a load balancer or a monitor: 200 when the database answers within 5 s, else 503."""

    async def healthz(request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(5), db.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("health check: the database does not answer (%s)", type(exc).__name__)
            return web.json_response({"ok": False, "database": "unreachable"}, status=503)
        return web.json_response({"ok": True, "database": "ok"})

    return healthz


async def run(settings: Settings) -> None:
    if not settings.web_chat and settings.telegram_token is None and settings.zalo_token is None:
        raise ConfigError("No channel to serve: set HOCVUSO_TELEGRAM_TOKEN or HOCVUSO_ZALO_TOKEN, "
                          "or leave HOCVUSO_WEB_CHAT on.")
    app = await build(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await app.serve()
        # Everything loaded at start-up (lessons, libraries, the app) lives as long as the process: kept out of the
        # cyclic garbage collector's full passes, which otherwise walk all of it and pause the loop under load.
        # `hocvuso run` starts with the collector off (bot/cli.py): it comes on here, once serving.
        gc.freeze()
        gc.enable()
        if app.web_channel is not None:
            print(f"Trợ lý số đang chạy: mở http://{settings.host}:{settings.port} trong trình duyệt.", flush=True)
        await stop.wait()
    finally:
        await app.close()
