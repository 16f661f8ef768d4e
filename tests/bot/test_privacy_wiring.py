"""The app takes the privacy salt and retention from the settings, and the hourly housekeeping purges the
privacy-request log by them."""

from __future__ import annotations

import datetime as dt
import pathlib

from bot.app import build
from storage.models import utcnow
from storage.privacy import DataRequestsRepo, ref_hash
from tests.harness import settings_for


async def test_the_salt_and_retention_come_from_the_settings_and_housekeeping_purges_the_log(
        tmp_path: pathlib.Path) -> None:
    settings = settings_for(tmp_path / "bot.db", privacy_salt="muối-riêng", privacy_log_days=30)
    app = await build(settings)
    try:
        assert app.engine.community.privacy_salt == "muối-riêng".encode()
        assert app.engine.community.privacy_retention.requests == dt.timedelta(days=30)
        key = ref_hash("telegram:5", app.engine.community.privacy_salt)
        async with app.engine.sessions() as session, session.begin():
            repo = DataRequestsRepo(session)
            await repo.log(key, "copy", done=True, now=utcnow() - dt.timedelta(days=31))
            await repo.log(key, "delete", done=True, now=utcnow() - dt.timedelta(days=1))
        await app.engine.forget_old_keys()
        async with app.engine.sessions() as session:
            assert [r.kind for r in await DataRequestsRepo(session).of(key)] == ["delete"]
    finally:
        await app.close()
