"""Routes: which handler takes an inbound, and the role it needs (declared here, checked by the engine)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.messages import Inbound, InboundKind
from bot.roles import Role

if TYPE_CHECKING:
    from bot.context import Context

Handler = Callable[[Inbound, "Context"], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    handler: Handler
    requires: Role


class Router:
    """Commands by name, choices by payload prefix ("lesson:zalo-qr" → "lesson"), flows by the state's
    "flow" (what the person is in the middle of: typing a practice answer, choosing a hamlet), then a fallback."""

    def __init__(self) -> None:
        self.commands: dict[str, Route] = {}
        self.choices: dict[str, Route] = {}
        self.flows: dict[str, Route] = {}
        self.jobs: dict[str, Route] = {}
        self.fallback_route: Route | None = None
        self.forbidden_route: Route | None = None
        self.described: list[tuple[str, str, Role]] = []

    def command(self, *names: str, requires: Role = Role.VILLAGER, describe: str = ""
                ) -> Callable[[Handler], Handler]:
        """`describe`: the Vietnamese line shown in the platform's command menu (first name only)."""
        if describe:
            self.described.append((names[0], describe, requires))
        return self._register(self.commands, names, requires)

    def command_menu(self, *roles: Role) -> list[tuple[str, str]]:
        """The described commands that people with these roles may use, in registration order."""
        allowed = {Role.ANYONE, Role.VILLAGER, *roles}
        if allowed & {Role.MENTOR, Role.OFFICIAL}:
            allowed.add(Role.HELPER)
        return [(name, text) for name, text, role in self.described if role in allowed]

    def choice(self, *prefixes: str, requires: Role = Role.VILLAGER) -> Callable[[Handler], Handler]:
        return self._register(self.choices, prefixes, requires)

    def flow(self, *flows: str, requires: Role = Role.VILLAGER) -> Callable[[Handler], Handler]:
        return self._register(self.flows, flows, requires)

    def job(self, *kinds: str) -> Callable[[Handler], Handler]:
        """A durable timer's handler; it runs with no person (Role.ANYONE) and may only notify people."""
        return self._register(self.jobs, kinds, Role.ANYONE)

    def fallback(self, handler: Handler) -> Handler:
        self.fallback_route = Route(handler, Role.ANYONE)
        return handler

    def forbidden(self, handler: Handler) -> Handler:
        """Runs when the routed handler needs a role the person lacks."""
        self.forbidden_route = Route(handler, Role.ANYONE)
        return handler

    def _register(self, table: dict[str, Route], keys: tuple[str, ...], requires: Role
                  ) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            for key in keys:
                if key in table:
                    raise ValueError(f"route {key!r} registered twice")
                table[key] = Route(handler, requires)
            return handler
        return decorate

    def include(self, other: Router) -> None:
        for mine, theirs in ((self.commands, other.commands), (self.choices, other.choices),
                             (self.flows, other.flows), (self.jobs, other.jobs)):
            for key, route in theirs.items():
                if key in mine:
                    raise ValueError(f"route {key!r} registered twice")
                mine[key] = route
        self.described.extend(other.described)
        self.fallback_route = other.fallback_route or self.fallback_route
        self.forbidden_route = other.forbidden_route or self.forbidden_route

    def resolve(self, inbound: Inbound, flow: str | None) -> Route | None:
        route: Route | None = None
        if inbound.kind is InboundKind.JOB:
            return self.jobs.get(inbound.command)
        if inbound.kind is InboundKind.COMMAND:
            route = self.commands.get(inbound.command)
        elif inbound.kind is InboundKind.CHOICE:
            route = self.choices.get(inbound.payload.split(":", 1)[0])
        elif flow is not None and inbound.kind in (InboundKind.TEXT, InboundKind.PHOTO):
            route = self.flows.get(flow)
        return route or self.fallback_route
