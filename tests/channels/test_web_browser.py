"""The web chat page in real headless Chromium on a phone-sized screen, against the real app on a real port."""

from __future__ import annotations

import os
import pathlib
import re
import socket

import pytest
from playwright.async_api import Page, ViewportSize, async_playwright, expect

from bot.app import build
from bot.channels.web import STATIC
from tests.harness import settings_for

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE: ViewportSize = {"width": 390, "height": 844}
WAIT_MS = 15_000
STATIC_PAGE = STATIC / "index.html"


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
    settings = settings_for(tmp_path / "bot.db", web_chat=True, host="127.0.0.1", port=port)
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
                shot = tmp_path / "web-chat.png"  # taken before the layout checks, to look at if they fail
                await page.screenshot(path=str(shot))
                assert shot.is_file() and shot.stat().st_size > 0

                # What a phone user sees: big buttons that fit the screen, large text, no error line.
                layout = await page.evaluate("""() => {
                    const buttons = [...document.querySelectorAll('.choices:not(.used) button')];
                    const text = [...document.querySelectorAll('.msg.bot')].pop();
                    return {
                        screen: document.documentElement.clientWidth,
                        buttons: buttons.map((b) => {
                            const box = b.getBoundingClientRect();
                            return {label: b.textContent, left: box.left, right: box.right, height: box.height};
                        }),
                        fontSize: parseFloat(getComputedStyle(text).fontSize),
                        status: document.getElementById('status').textContent,
                    };
                }""")
                assert layout["screen"] == PHONE["width"], layout
                assert layout["buttons"], layout
                for button in layout["buttons"]:
                    assert button["height"] >= 48, button
                    assert button["left"] >= 0 and button["right"] <= layout["screen"], button
                    assert button["right"] - button["left"] >= PHONE["width"] * 0.6, button
                assert layout["fontSize"] >= 18, layout
                assert layout["status"] == "", layout
                assert errors == []
            finally:
                await browser.close()
    finally:
        await app.close()


@pytest.mark.browser
async def test_the_message_box_and_send_button_fit_a_phone_screen() -> None:
    need_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
            page = await context.new_page()
            # Layout only: the page as served, without a server behind it (its fetches fail and it says so).
            await page.set_content(STATIC_PAGE.read_text(encoding="utf-8"))
            await expect(page.locator("#send")).to_be_visible()
            edges = await page.evaluate("""() => ({
                screen: document.documentElement.clientWidth,
                page: document.documentElement.scrollWidth,
                send: document.getElementById('send').getBoundingClientRect().right,
                text: document.getElementById('text').getBoundingClientRect().right,
            })""")
            assert edges["screen"] == PHONE["width"], edges
            assert edges["text"] <= edges["screen"], edges
            assert edges["send"] <= edges["screen"], edges
            assert edges["page"] <= edges["screen"], edges
        finally:
            await browser.close()
