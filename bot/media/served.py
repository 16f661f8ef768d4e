"""Images served by the bot itself at `/media/<token>.png` (or `.jpg`), for platforms that take only a URL (Zalo).

The token is unguessable (`secrets.token_urlsafe(24)`), the file expires (`media_ttl_hours`), and there is no
listing: anything but an exact, unexpired token with its own extension is a plain 404. Generated images are
PNG; a photo a villager sent (forwarded to a mentor) stays JPEG and is served as such, never mislabelled.
"""

from __future__ import annotations

import datetime as dt
import re

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.media import MediaRepo

ROUTE_NAME = "media"
PNG = "image/png"
JPEG = "image/jpeg"
EXTENSIONS = {PNG: "png", JPEG: "jpg"}
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_HEADERS = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer"}


def image_type(data: bytes) -> str | None:
    """PNG or JPEG by their signature; None for anything else (it is not served)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    return None


async def publish(sessions: async_sessionmaker[AsyncSession], data: bytes, ttl: dt.timedelta) -> str:
    """Keep the image for `ttl`; returns its token (the URL: `url_for(public_url, token, data)`).
    ValueError for anything but PNG or JPEG."""
    kind = image_type(data)
    if kind is None:
        raise ValueError("only PNG and JPEG images are served")
    async with sessions() as session, session.begin():
        return await MediaRepo(session).put(data, kind, ttl)


def url_for(public_url: str, token: str, data: bytes) -> str:
    return f"{public_url.rstrip('/')}/media/{token}.{EXTENSIONS.get(image_type(data) or PNG, 'png')}"


def register(app: web.Application, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Add `GET /media/{token}.png|jpg` (named "media") unless another channel already did."""
    if ROUTE_NAME in app.router.named_resources():
        return

    async def serve(request: web.Request) -> web.Response:
        token, extension = request.match_info.get("token", ""), request.match_info.get("ext", "")
        if not _TOKEN.match(token):
            raise web.HTTPNotFound()
        async with sessions() as session:
            found = await MediaRepo(session).get(token)
        if found is None or EXTENSIONS.get(found.content_type) != extension:
            raise web.HTTPNotFound()
        return web.Response(body=found.data, content_type=found.content_type, headers=_HEADERS)

    app.router.add_get("/media/{token}.{ext:png|jpg}", serve, name=ROUTE_NAME)
