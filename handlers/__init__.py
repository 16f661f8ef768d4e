"""Handlers: what the bot does for villagers, mentors and officials. Each module exports a router."""
