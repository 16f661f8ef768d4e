"""The web chat page in real headless Chromium on a phone-sized screen, against the real app on a real port."""

from __future__ import annotations

import os
import pathlib
import re
import socket

import pytest
from playwright.async_api import Page, async_playwright, expect

from bot.app import build
from tests.harness import settings_for

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
WAIT_MS = 15_000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def need_chromium() -> None:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium package (Playwright's own download does not work)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


async def tap(page: Page, label: str) -> None:
    """Tap the button with exactly this label among the newest message's buttons (waits until it is there)."""
    button = page.locator(".choices:not(.used)").get_by_role("button", name=label, exact=True)
    await expect(button).to_have_count(1, timeout=WAIT_MS)
    await button.tap(timeout=WAIT_MS)


@pytest.mark.browser
async def test_a_phone_user_starts_a_lesson_in_chromium(tmp_path: pathlib.Path) -> None:
    need_chromium()
    port = free_port()
    # settings_for(db, web_chat=True) raises TypeError (it passes web_chat itself), so set it on a copy.
    settings = settings_for(tmp_path / "bot.db").model_copy(
        update={"web_chat": True, "host": "127.0.0.1", "port": port})
    app = await build(settings)
    await app.serve()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                                    device_scale_factor=2, locale="vi-VN")
                page = await context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                        if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)

                await page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
                # The page says /start by itself; the consent question arrives with its buttons.
                consent = page.locator(".msg.bot").filter(has_text="/xoadulieu")
                await expect(consent).to_be_visible(timeout=WAIT_MS)
                await tap(page, "✅ Đồng ý")
                await tap(page, "Xóm 1")
                await tap(page, "Từ 60 tuổi")
                await tap(page, "📚 Học bài")
                await tap(page, "Zalo")
                await tap(page, "Bài 1")
                await expect(page.locator(".msg.bot").filter(has_text=re.compile(r"Bước 1/\d+"))).to_be_visible(
                    timeout=WAIT_MS)
                await tap(page, "▶ Tiếp tục")
                step_two = page.locator(".msg.bot").filter(has_text=re.compile(r"Bước 2/\d+"))
                await expect(step_two).to_be_visible(timeout=WAIT_MS)
                await expect(step_two).to_be_in_viewport()

                # What a phone user sees: nothing wider than the screen, big buttons, large text, no error line.
                layout = await page.evaluate("""() => {
                    const buttons = [...document.querySelectorAll('.choices:not(.used) button')];
                    const text = document.querySelector('.msg.bot:last-of-type') || document.body;
                    return {
                        overflow: document.documentElement.scrollWidth - window.innerWidth,
                        buttonHeights: buttons.map((b) => b.getBoundingClientRect().height),
                        buttonWidths: buttons.map((b) => b.getBoundingClientRect().width),
                        fontSize: parseFloat(getComputedStyle(text).fontSize),
                        status: document.getElementById('status').textContent,
                    };
                }""")
                assert layout["overflow"] <= 0, layout
                assert layout["buttonHeights"] and min(layout["buttonHeights"]) >= 48, layout
                assert min(layout["buttonWidths"]) >= PHONE["width"] * 0.6, layout
                assert layout["fontSize"] >= 18, layout
                assert layout["status"] == "", layout
                assert errors == []

                shot = tmp_path / "web-chat.png"
                await page.screenshot(path=str(shot))
                assert shot.is_file() and shot.stat().st_size > 0
            finally:
                await browser.close()
    finally:
        await app.close()
