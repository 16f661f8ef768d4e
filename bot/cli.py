"""The `hocvuso` command: run, demo, db upgrade, lessons check."""

from __future__ import annotations

import argparse
import asyncio
import gc
import pathlib
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from bot import logsafe
from bot.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hocvuso", description="Trợ lý Bình dân học vụ số")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the configured channels (web chat, Telegram, Zalo)")
    run.add_argument("--workers", type=int, default=1,
                     help="processes sharing the port (webhook mode on PostgreSQL only)")
    demo = commands.add_parser("demo", help="run on a seeded demo database (xã Bạch Ngọc, Xóm 1–12)")
    demo.add_argument("--port", type=int, default=None)
    demo.add_argument("--host", default=None)
    demo.add_argument("--database", default="sqlite+aiosqlite:///data/demo.db",
                      help="demo database URL (default: %(default)s)")
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply Alembic migrations")
    invite = commands.add_parser("invite", help="print a single-use invite code")
    invite.add_argument("role", choices=["mentor"], help="what the code makes someone")
    officials = commands.add_parser("officials", help="commune officials")
    officials_commands = officials.add_subparsers(dest="officials_command", required=True)
    officials_add = officials_commands.add_parser("add", help="make telegram:<id> or zalo:<id> an official")
    officials_add.add_argument("ref", help="telegram:<id> or zalo:<id> (the id the bot shows with /toi)")
    officials_add.add_argument("--name", default=None, help="how people see them, e.g. \"Chị Hoa – VHXH\"")
    report = commands.add_parser("report", help="write the monthly report (.xlsx) for officials")
    report.add_argument("--month", required=True, help="YYYY-MM, e.g. 2026-11")
    report.add_argument("--out", type=pathlib.Path, required=True)
    poster = commands.add_parser("poster", help="an A4 PDF poster with QR codes that start the bot in a hamlet")
    poster.add_argument("--hamlet", required=True, help="the hamlet, as configured (\"Xóm 3\")")
    poster.add_argument("--out", type=pathlib.Path, required=True, help="where to write the PDF")
    poster.add_argument("--bot-username", default=None, help="the Telegram bot's username (else asked with getMe)")
    poster.add_argument("--zalo-link", default=None, help="the Zalo chat link (default HOCVUSO_ZALO_LINK)")
    links = commands.add_parser("links", help="print each hamlet's Telegram deep link (pre-selects the hamlet)")
    links.add_argument("--bot-username", default=None, help="skip asking Telegram (getMe) for the bot's username")
    backup = commands.add_parser("backup", help="copy the SQLite database, safe while the bot runs (checked)")
    backup.add_argument("--out", type=pathlib.Path, required=True, help="the backup file to write")
    backup.add_argument("--overwrite", action="store_true", help="replace --out if it already exists")
    restore = commands.add_parser("restore", help="replace the SQLite database with a backup (stop the bot first)")
    restore.add_argument("--from", dest="source", type=pathlib.Path, required=True, help="the backup file")
    restore.add_argument("--yes", action="store_true", help="really replace the database")
    lessons = commands.add_parser("lessons", help="lesson content tools")
    lessons_commands = lessons.add_subparsers(dest="lessons_command", required=True)
    check = lessons_commands.add_parser("check", help="validate lesson files; errors as file:line: message")
    check.add_argument("path", nargs="?", type=pathlib.Path, default=None)
    stats = lessons_commands.add_parser("stats", help="reading level per lesson: steps, words per sentence, minutes")
    stats.add_argument("path", nargs="?", type=pathlib.Path, default=None)
    args = parser.parse_args(argv)

    if args.command == "lessons" and args.lessons_command == "stats":
        return _lessons_stats(args.path)
    if args.command == "lessons":
        return _lessons_check(args.path)
    settings = Settings()
    logsafe.configure(settings)
    if args.command in ("backup", "restore"):
        from bot.backup import run_backup, run_restore

        if args.command == "backup":
            return run_backup(settings.database_url, args.out, overwrite=args.overwrite)
        return run_restore(settings.database_url, args.source, yes=args.yes)
    if args.command == "db":
        return _db_upgrade(settings)
    if args.command == "links":
        return _links(settings, args.bot_username)
    if args.command == "poster":
        return _poster(settings, args.hamlet, args.out, args.bot_username, args.zalo_link)
    if args.command == "report":
        from bot import admin

        try:
            year, month = (int(part) for part in args.month.split("-"))
            if not 1 <= month <= 12:
                raise ValueError
        except ValueError:
            print("hocvuso: --month is YYYY-MM, e.g. 2026-11", file=sys.stderr)
            return 2
        return admin.run(settings, admin.report(year, month, args.out))
    if args.command in ("invite", "officials"):
        from bot import admin

        if args.command == "invite":
            return admin.run(settings, admin.invite(args.role))
        return admin.run(settings, admin.add_official(args.ref, args.name))
    if args.command == "demo":
        settings = settings.for_demo(args.database)
        if args.port is not None:
            settings = settings.model_copy(update={"port": args.port})
        if args.host is not None:
            settings = settings.model_copy(update={"host": args.host})
    if args.command == "run" and args.workers > 1:
        from bot import workers

        return workers.run(settings, args.workers)
    return _run(settings)


def loop_runner(name: str) -> Callable[[Coroutine[Any, Any, None]], None]:
    """`uvloop.run` (HOCVUSO_EVENT_LOOP=uvloop, where uvloop is installed) or `asyncio.run`."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:  # Windows, or a trimmed install: the standard loop does the same, a little slower
            return asyncio.run
        return uvloop.run
    return asyncio.run


def _run(settings: Settings) -> int:
    # No cyclic garbage collection while starting: imports, lessons and migrations make objects that live as long
    # as the process, and the collector walking them again and again cost about a tenth of the start-up's CPU. It
    # comes back on once the app serves (bot/app.py run), which first freezes what start-up made.
    gc.disable()
    try:
        from bot.app import run
        from bot.settings import ConfigError
        from lessons.catalog import CatalogError

        try:
            loop_runner(settings.event_loop)(run(settings))
        except ConfigError as exc:
            print(f"hocvuso: {exc}", file=sys.stderr)
            return 2
        except CatalogError as exc:
            print(f"hocvuso: the lessons have errors:\n{exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        gc.enable()  # a start-up that failed never got to serve (callers in the same process go on collecting)


def _db_upgrade(settings: Settings) -> int:
    from storage import migrate
    from storage.db import create_engine

    async def upgrade() -> None:
        engine = create_engine(settings.database_url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(upgrade())
    print("database is up to date")
    return 0


def _links(settings: Settings, username: str | None) -> int:
    from storage.places import hamlet_code

    if not settings.hamlet_names:
        print("hocvuso: set HOCVUSO_HAMLETS first", file=sys.stderr)
        return 2
    if username is None:
        if settings.telegram_token is None:
            print("hocvuso: set HOCVUSO_TELEGRAM_TOKEN, or pass --bot-username", file=sys.stderr)
            return 2
        username = asyncio.run(_bot_username(settings))
    for name in settings.hamlet_names:
        print(f"{name}: https://t.me/{username}?start={hamlet_code(name)}")
    return 0


def _poster(settings: Settings, hamlet: str, out: pathlib.Path, username: str | None, zalo: str | None) -> int:
    from bot.media.poster import make_poster_pdf
    from lessons.textmatch import matches
    from storage.places import hamlet_code

    if not settings.commune:
        print("hocvuso: set HOCVUSO_COMMUNE first", file=sys.stderr)
        return 2
    name = next((h for h in settings.hamlet_names if matches(hamlet, h) or hamlet_code(h) == hamlet), None)
    if name is None:
        print(f"hocvuso: no hamlet {hamlet!r} in HOCVUSO_HAMLETS", file=sys.stderr)
        return 2
    username = username or settings.telegram_bot_username or None
    if username is None and settings.telegram_token is not None:
        username = asyncio.run(_bot_username(settings))
    zalo = zalo or settings.zalo_link or None
    if username is None and zalo is None:
        print("hocvuso: a poster needs --bot-username (or HOCVUSO_TELEGRAM_TOKEN) or --zalo-link", file=sys.stderr)
        return 2
    link = f"https://t.me/{username.lstrip('@')}?start={hamlet_code(name)}" if username else None
    commune = settings.commune[:1].upper() + settings.commune[1:]
    out.write_bytes(make_poster_pdf(commune=commune, hamlet=name, telegram_link=link, zalo_link=zalo))
    print(f"wrote {out}")
    return 0


async def _bot_username(settings: Settings) -> str:
    from telegram import Bot

    assert settings.telegram_token is not None
    api = settings.telegram_api_url
    async with Bot(settings.telegram_token.get_secret_value(), base_url=f"{api}/bot",
                   base_file_url=f"{api}/file/bot") as bot:
        return bot.username


def _lessons_stats(path: pathlib.Path | None) -> int:
    from lessons import catalog
    from lessons.stats import report

    try:
        print(report(catalog.load(path or catalog.CONTENT)))
    except catalog.CatalogError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def _lessons_check(path: pathlib.Path | None) -> int:
    from lessons import catalog

    root = path or catalog.CONTENT
    errors = catalog.check(root)
    for error in errors:
        print(error)
    if errors:
        print(f"{len(errors)} error(s)", file=sys.stderr)
        return 1
    loaded = catalog.load(root)
    print(f"ok: {len(loaded.tracks)} tracks, {len(loaded.lessons)} lessons")
    return 0


if __name__ == "__main__":
    sys.exit(main())
