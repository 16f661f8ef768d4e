"""Performance benchmarks: the engine through its real Telegram channel against bare python-telegram-bot, the
officials' statistics on a large commune, broadcast pacing, memory and start-up. Run `python -m benchmarks`
(`--quick` for a small run); the method and the latest results are in docs/performance.md."""
