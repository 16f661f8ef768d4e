"""CPU per Bot API call: python-telegram-bot's methods against the same calls posted as JSON
(bot/channels/telegram_calls.py), both on the engine's aiohttp transport, against the fake Bot API in its own
process. Rounds alternate, so a machine that speeds up or slows down affects both alike.

    python -m benchmarks.api_calls [--calls 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode

from benchmarks.fake import TOKEN, FakeApi
from bot.channels.telegram_calls import BotCalls
from bot.channels.telegram_request import AiohttpRequest

CHAT = 100_001
TEXT = "Bước 2/6 · Gọi video trên Zalo\n\nBác bấm biểu tượng <b>hình máy quay phim</b>, ở góc trên bên phải."
ROWS = [[("▶ Tiếp tục", "next:zalo-goi-video:bam-goi")], [("🏠 Về menu", "menu"), ("🙋 Hỏi người giúp", "help")]]


async def _cpu_per_call(calls: int, work: Callable[[], Awaitable[object]]) -> float:
    started = time.process_time()
    for _ in range(calls):
        await work()
    return (time.process_time() - started) * 1000 / calls


async def main(calls: int, rounds: int) -> dict[str, float]:
    fake = await FakeApi.start()
    bot = Bot(TOKEN, base_url=f"{fake.root}/bot", request=AiohttpRequest(), get_updates_request=AiohttpRequest(1))
    try:
        await bot.initialize()
        raw = BotCalls(bot)
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in row]
                                       for row in ROWS])
        plain = {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row] for row in ROWS]}
        kinds: dict[str, Callable[[], Awaitable[object]]] = {
            "sendMessage, PTB": lambda: bot.send_message(CHAT, TEXT, parse_mode=ParseMode.HTML, reply_markup=markup),
            "sendMessage, JSON": lambda: raw.send_text(CHAT, TEXT, plain),
            "answerCallbackQuery, PTB": lambda: bot.answer_callback_query("q1"),
            "answerCallbackQuery, JSON": lambda: raw.answer_button("q1"),
            "editMessageReplyMarkup, PTB": lambda: bot.edit_message_reply_markup(CHAT, 7, reply_markup=None),
            "editMessageReplyMarkup, JSON": lambda: raw.remove_keyboard(CHAT, 7),
        }
        for work in kinds.values():  # warm-up: connections open, caches filled
            await _cpu_per_call(50, work)
        seen: dict[str, list[float]] = {name: [] for name in kinds}
        for _ in range(rounds):
            for name, work in kinds.items():
                seen[name].append(await _cpu_per_call(calls, work))
    finally:
        await bot.shutdown()
        await fake.close()
    return {name: statistics.median(values) for name, values in seen.items()}


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="calls of each kind per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for name, ms in asyncio.run(main(args.calls, args.rounds)).items():
        print(f"{name:32} {ms:6.3f} ms CPU per call (median of {args.rounds} rounds)")


if __name__ == "__main__":
    _cli()
