"""Loops that log an error and go on must still stop when asked to.

Some libraries turn a task's cancellation into an error of their own; a loop that catches it, logs and carries on
would then never end, and shutting down (or closing an event loop) would wait for it forever."""

from __future__ import annotations

import asyncio


def unless_cancelled() -> None:
    """Call in an `except` branch that carries on: raises CancelledError when the task was asked to stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
