"""The baseline: a bare python-telegram-bot echo bot. One MessageHandler and one CallbackQueryHandler, each replying
once with send_message; nothing stored, no rate limiter, `concurrent_updates` on (256, as the engine's channel).

    python -m benchmarks.echo_bot --api http://127.0.0.1:8081 --token 123456:TOKEN
    python -m benchmarks.echo_bot ... --transport aiohttp   # the engine's own HTTP backend (a second comparison)

The issue's baseline is stock python-telegram-bot (httpx). The engine talks to the Bot API through its own aiohttp
backend (bot/channels/telegram_request.py), which any bot could use; `--transport aiohttp` gives the echo bot the
same backend, so the second ratio shows what the engine's own work costs, apart from the transport.
"""

from __future__ import annotations

import argparse
import logging

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters


async def echo_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    await context.bot.send_message(message.chat_id, f"Bạn gõ: {message.text}")


async def echo_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await context.bot.send_message(query.from_user.id, f"Bạn bấm: {query.data}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--transport", choices=("httpx", "aiohttp"), default="httpx")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    builder = (Application.builder().token(args.token).base_url(f"{args.api}/bot")
               .base_file_url(f"{args.api}/file/bot").concurrent_updates(True))
    if args.transport == "aiohttp":
        from bot.channels.telegram_request import AiohttpRequest

        builder = builder.request(AiohttpRequest(connection_pool_size=256)).get_updates_request(
            AiohttpRequest(connection_pool_size=1, read_timeout=40))
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo_text))
    app.add_handler(CallbackQueryHandler(echo_button))
    app.run_polling(allowed_updates=["message", "callback_query"], timeout=30)


if __name__ == "__main__":
    main()
