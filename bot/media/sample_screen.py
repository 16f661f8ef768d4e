"""A picture of a bank app's transfer screen, for the practice-payment step when the commune has no practice
account configured: the person reads the recipient and amount from it instead of from their own app."""

from __future__ import annotations

import io

from bot.media.fonts import font_path


def transfer_screen_png(*, recipient: str, amount_text: str, message: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFont  # here, not at start-up

    width, height = 640, 900
    image = Image.new("RGB", (width, height), "#f2f4f7")
    draw = ImageDraw.Draw(image)
    title = ImageFont.truetype(str(font_path("bold")), 40)
    label = ImageFont.truetype(str(font_path("regular")), 28)
    value = ImageFont.truetype(str(font_path("bold")), 34)
    draw.rectangle((0, 0, width, 110), fill="#0b5cad")
    draw.text((40, 30), "Chuyển tiền", font=title, fill="white")
    draw.rounded_rectangle((30, 150, width - 30, 640), radius=24, fill="white", outline="#c9d2dc", width=2)
    rows = [("Người nhận", recipient), ("Số tiền", amount_text), ("Nội dung", message)]
    y = 185
    for name, text in rows:
        draw.text((60, y), name, font=label, fill="#5b6675")
        draw.text((60, y + 40), text, font=value, fill="#111111")
        y += 145
    draw.rounded_rectangle((30, 690, width - 30, 800), radius=20, fill="#fde8e8", outline="#c62828", width=3)
    draw.text((60, 722), "⚠ Đây là bài tập: KHÔNG bấm Xác nhận", font=label, fill="#c62828")
    draw.text((40, 840), "Hình minh họa – màn hình thật mỗi ngân hàng một khác", font=ImageFont.truetype(
        str(font_path("regular")), 22), fill="#5b6675")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
