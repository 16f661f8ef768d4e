"""GET /verify/<code>: anyone holding a certificate's QR code can check it in a browser."""

from __future__ import annotations

import html

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.media.certificate import normalize_verification_code
from storage.certificates import CertificatesRepo

PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Kiểm tra giấy chứng nhận</title>
<style>body{{font-family:"Noto Sans",Arial,sans-serif;font-size:20px;max-width:640px;margin:40px auto;padding:0 16px}}
.ok{{color:#0a7d3b}}.bad{{color:#a11}}</style></head><body><h1>Kiểm tra giấy chứng nhận</h1>{body}</body></html>"""


def register(app: web.Application, sessions: async_sessionmaker[AsyncSession]) -> None:
    async def verify(request: web.Request) -> web.Response:
        code = normalize_verification_code(request.match_info["code"])
        certificate = None
        if code is not None:
            async with sessions() as session:
                certificate = await CertificatesRepo(session).verify(code)
        if certificate is None:
            body = '<p class="bad">❌ Không tìm thấy giấy chứng nhận với mã này.</p>'
            return web.Response(text=PAGE.format(body=body), content_type="text/html", status=404)
        body = (f'<p class="ok">✅ Giấy chứng nhận hợp lệ.</p><p><b>{html.escape(certificate.name)}</b> đã hoàn thành '
                f"chủ đề «{html.escape(certificate.track_title)}» ngày {certificate.issued_on:%d/%m/%Y}, "
                f"{html.escape(certificate.commune_name)}.</p>")
        return web.Response(text=PAGE.format(body=body), content_type="text/html",
                            headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})

    app.router.add_get("/verify/{code}", verify)
