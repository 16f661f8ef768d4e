"""Images served by the bot itself at `/media/<token>.png` (or `.jpg`), for platforms that take only a URL (Zalo);
also the PDF and .xlsx files Zalo cannot send (certificates, posters, monthly reports), as download links.

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
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXTENSIONS = {PNG: "png", JPEG: "jpg", PDF: "pdf", XLSX: "xlsx"}
DOCUMENTS = {"pdf": PDF, "xlsx": XLSX}
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


async def publish_document(sessions: async_sessionmaker[AsyncSession], data: bytes, name: str,
                           ttl: dt.timedelta) -> str:
    """Keep a PDF or an .xlsx file (by its name's extension) for `ttl`; returns its download URL path."""
    extension = name.rsplit(".", 1)[-1].lower()
    if extension not in DOCUMENTS:
        raise ValueError("only .pdf and .xlsx files are served")
    async with sessions() as session, session.begin():
        token = await MediaRepo(session).put(data, DOCUMENTS[extension], ttl)
    return f"/media/{token}.{extension}"


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
        headers = dict(_HEADERS)
        if extension in DOCUMENTS:
            headers["Content-Disposition"] = f'attachment; filename="tai-lieu.{extension}"'
        return web.Response(body=found.data, content_type=found.content_type, headers=headers)

    app.router.add_get("/media/{token}.{ext:png|jpg|pdf|xlsx}", serve, name=ROUTE_NAME)
