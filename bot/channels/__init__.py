"""Channel adapters: the only code that knows a platform (web chat, Telegram, Zalo)."""
