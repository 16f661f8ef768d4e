"""Who may do what: roles declared on routes and checked by the engine."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    ANYONE = "anyone"  # even someone who has not consented (greeting, consent, help)
    VILLAGER = "villager"  # anyone who consented: every mentor and official is a villager too
    MENTOR = "mentor"
    OFFICIAL = "official"
    HELPER = "helper"  # a mentor or an official: may take help requests


def has_role(role: Role, *, consented: bool, is_mentor: bool, is_official: bool) -> bool:
    if role is Role.ANYONE:
        return True
    if not consented:
        return False
    if role is Role.VILLAGER:
        return True
    if role is Role.MENTOR:
        return is_mentor
    if role is Role.HELPER:
        return is_mentor or is_official
    return is_official
