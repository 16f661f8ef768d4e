"""`hocvuso backup` and `hocvuso restore` for the SQLite database (PostgreSQL: pg_dump, see docs/operations.md).

Backup uses SQLite's online backup API in one step: it reads one consistent snapshot while the bot keeps writing
(WAL mode lets readers and writers run together), writes it to a temporary file next to the destination, turns
the copy into a self-contained single file (journal_mode=DELETE), checks it (`PRAGMA integrity_check`), and only
then renames it into place, readable by its owner only.

Restore checks the file (an SQLite database, intact, with an Alembic revision this hocvuso knows), copies it next
to the live database, fsyncs, removes the live database's stale -wal/-shm files and renames the copy into place;
then it applies the migrations, so an older backup comes up to date. The bot must be stopped first: nothing here
can tell reliably whether another process has the database open.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import secrets
import shutil
import sqlite3
import stat
import sys
from dataclasses import dataclass

from sqlalchemy.engine import make_url

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_SECONDS = 30.0


class BackupError(Exception):
    """The backup or restore was refused or failed; the message tells the operator what to do."""


@dataclass(frozen=True)
class BackupInfo:
    path: pathlib.Path
    size_bytes: int
    people: int
    revision: str | None  # the Alembic revision of the copy (None: the database was never migrated)


@dataclass(frozen=True)
class RestoreInfo:
    path: pathlib.Path  # the live database, now holding the restored data
    size_bytes: int
    people: int
    backup_revision: str  # the revision the backup was taken at
    revision: str  # the revision after migrations (the newest this hocvuso knows)


async def backup(database_url: str, out: pathlib.Path, *, overwrite: bool = False) -> BackupInfo:
    """Copy the live database to `out` as one consistent snapshot; safe while the bot runs."""
    database = sqlite_path(database_url)
    try:
        return await asyncio.to_thread(_backup, database, pathlib.Path(out), overwrite)
    except OSError as exc:  # a folder that cannot be written, a full disk
        raise BackupError(f"the backup failed: {exc}") from exc


async def restore(database_url: str, source: pathlib.Path) -> RestoreInfo:
    """Replace the database with the backup `source`, then migrate it. Stop the bot first."""
    from storage import migrate
    from storage.db import create_engine

    database = sqlite_path(database_url)
    try:
        backup_revision = await asyncio.to_thread(_install, pathlib.Path(source), database)
    except OSError as exc:
        raise BackupError(f"the restore failed, the database was not replaced: {exc}") from exc
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    people, revision = await asyncio.to_thread(_describe_file, database)
    return RestoreInfo(path=database, size_bytes=database.stat().st_size, people=people,
                       backup_revision=backup_revision, revision=revision or "")


def sqlite_path(database_url: str) -> pathlib.Path:
    """The database file a SQLite URL names; a clear refusal for anything else."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        raise BackupError("HOCVUSO_DATABASE_URL is PostgreSQL: back it up with `pg_dump -Fc` and restore it with "
                          "`pg_restore` (see docs/operations.md, «Backups»); `hocvuso backup` is for SQLite only.")
    if backend != "sqlite":
        raise BackupError(f"`hocvuso backup` and `restore` handle SQLite only, not {backend}.")
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("HOCVUSO_DATABASE_URL must name an SQLite database file (sqlite+aiosqlite:///path.db).")
    return pathlib.Path(database).expanduser()


# ---- backup ------------------------------------------------------------------------------------------------

def _backup(database: pathlib.Path, out: pathlib.Path, overwrite: bool) -> BackupInfo:
    if not database.is_file():
        raise BackupError(f"there is no database at {database}")
    if out.is_dir():
        raise BackupError(f"{out} is a folder; give the backup file's name")
    if out.exists() and out.resolve() == database.resolve():
        raise BackupError("the backup cannot overwrite the live database")
    if out.exists() and not overwrite:
        raise BackupError(f"{out} already exists; choose another name or pass --overwrite")
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = _new_private_file(out)
    try:
        source = _connect(database, "rw")
        try:
            target = sqlite3.connect(temporary)
            try:
                # One step (pages=-1): the whole copy is read under one read transaction, i.e. one snapshot.
                # In WAL mode the bot's writers carry on meanwhile; their commits simply are not in this copy.
                source.backup(target, pages=-1)
                target.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, no -wal to lose
                _check_integrity(target, str(out))
                people, revision = _describe(target)
            finally:
                target.close()
        finally:
            source.close()
        _fsync(temporary)
        os.replace(temporary, out)
        _fsync_dir(out.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"the backup failed: {exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)
    return BackupInfo(path=out, size_bytes=out.stat().st_size, people=people, revision=revision)


# ---- restore -----------------------------------------------------------------------------------------------

def _install(source: pathlib.Path, database: pathlib.Path) -> str:
    """Check `source` and put a copy of it in the database's place; returns the backup's revision."""
    if not source.is_file():
        raise BackupError(f"there is no file {source}")
    if database.exists() and source.resolve() == database.resolve():
        raise BackupError("the backup is the live database itself")
    with source.open("rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupError(f"{source} is not an SQLite database")
    wal = _sidecar(source, "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise BackupError(f"{source} has a {wal.name} beside it: it is a live database, not a backup; "
                          "copy it with `hocvuso backup` first")
    database.parent.mkdir(parents=True, exist_ok=True)
    temporary = _new_private_file(database)
    try:
        shutil.copyfile(source, temporary)  # checked as copied, so what is installed is what was checked
        if database.exists():  # the bot's user must still own and open it (restore run with sudo)
            _same_owner_and_mode(database, temporary)
        revision = _check_backup(temporary, source)
        _fsync(temporary)
        for suffix in ("-wal", "-shm", "-journal"):  # a stale -wal would be replayed over the restored data
            _sidecar(database, suffix).unlink(missing_ok=True)
        os.replace(temporary, database)
        _fsync_dir(database.parent)
    finally:
        temporary.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm", "-journal"):
            _sidecar(temporary, suffix).unlink(missing_ok=True)
    return revision


def _check_backup(copy: pathlib.Path, source: pathlib.Path) -> str:
    try:
        connection = _connect(copy, "rw")
        try:
            _check_integrity(connection, str(source))
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "alembic_version" not in tables:
                raise BackupError(f"{source} is not a hocvuso database (it has no alembic_version table)")
            revisions = [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
            connection.execute("PRAGMA journal_mode=DELETE")
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{source} cannot be read as a database: {exc}") from exc
    if len(revisions) != 1:
        raise BackupError(f"{source} has no single Alembic revision ({revisions!r})")
    known = _known_revisions()
    if revisions[0] not in known:
        raise BackupError(f"{source} is at database revision {revisions[0]!r}, which this hocvuso does not know "
                          "(a backup from a newer version?): install that version, then restore")
    return str(revisions[0])


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from storage import migrate

    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    return {script.revision for script in scripts.walk_revisions()}


# ---- the `hocvuso backup` / `hocvuso restore` commands (bot/cli.py dispatches here) -----------------------

def run_backup(database_url: str, out: pathlib.Path, *, overwrite: bool = False) -> int:
    try:
        info = asyncio.run(backup(database_url, out, overwrite=overwrite))
    except BackupError as exc:
        print(f"hocvuso: {exc}", file=sys.stderr)
        return 2
    print(f"backup written: {info.path} ({_size(info.size_bytes)}, {info.people} people, "
          f"revision {info.revision or 'none'}, integrity ok)")
    return 0


def run_restore(database_url: str, source: pathlib.Path, *, yes: bool = False) -> int:
    try:
        database = sqlite_path(database_url)
    except BackupError as exc:
        print(f"hocvuso: {exc}", file=sys.stderr)
        return 2
    if not yes:
        print(f"hocvuso: this replaces {database} with {source}; everything written since that backup is lost.\n"
              "Stop the bot first (systemctl stop hocvuso), then run again with --yes.", file=sys.stderr)
        return 2
    try:
        info = asyncio.run(restore(database_url, source))
    except BackupError as exc:
        print(f"hocvuso: {exc}", file=sys.stderr)
        return 2
    print(f"restored {source} into {info.path} ({_size(info.size_bytes)}, {info.people} people, "
          f"revision {info.backup_revision} → {info.revision}); start the bot again")
    return 0


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} kB"


# ---- helpers -----------------------------------------------------------------------------------------------

def _connect(path: pathlib.Path, mode: str) -> sqlite3.Connection:
    """`mode=rw`: never creates a missing file by accident."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=BUSY_TIMEOUT_SECONDS)


def _check_integrity(connection: sqlite3.Connection, name: str) -> None:
    result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        problems = "; ".join(str(line) for line in result[:3])
        raise BackupError(f"{name} failed the integrity check: {problems}")


def _describe(connection: sqlite3.Connection) -> tuple[int, str | None]:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    people = connection.execute("SELECT count(*) FROM people").fetchone()[0] if "people" in tables else 0
    revision = None
    if "alembic_version" in tables:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    return int(people), revision


def _describe_file(path: pathlib.Path) -> tuple[int, str | None]:
    connection = _connect(path, "rw")
    try:
        return _describe(connection)
    finally:
        connection.close()


def _new_private_file(beside: pathlib.Path) -> pathlib.Path:
    """An empty file only its owner can read, in the same folder (so the final rename is atomic)."""
    path = beside.with_name(f".{beside.name}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    return path


def _same_owner_and_mode(model: pathlib.Path, path: pathlib.Path) -> None:
    status = model.stat()
    with contextlib.suppress(OSError):  # changing the owner needs root; as the owner it is already right
        os.chown(path, status.st_uid, status.st_gid)
    os.chmod(path, stat.S_IMODE(status.st_mode))


def _sidecar(database: pathlib.Path, suffix: str) -> pathlib.Path:
    return database.with_name(database.name + suffix)


def _fsync(path: pathlib.Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_dir(folder: pathlib.Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        _fsync(folder)
