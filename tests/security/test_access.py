"""Who may do what, table-driven from the real router.

Every command, every choice prefix and every flow registered by `bot.app.build_router()` is tried by a
villager, a mentor, an official, a stranger who declined consent and a person who deleted their data, through
the real engine (tests/harness.py). Where the route's declared role (`Route.requires`) is missing, the answer
is the polite refusal or the consent prompt and nothing in the database changes but what refusing writes (the
inbox key, the person's offered choices and last_seen_at). Where it is allowed, nothing crashes.

Also: one mentor cannot see or act on a case another mentor holds; relayed messages carry no account refs
and no phone numbers; the web chat cookie and the webhooks' secret checks.
"""

from __future__ import annotations

import datetime as dt
import inspect
import pathlib
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import delete, func, select

from bot.app import App, build_router
from bot.channels.telegram import TelegramChannel
from bot.channels.web import COOKIE
from bot.channels.zalo import ZaloChannel
from bot.engine import SORRY
from bot.messages import Reply
from bot.roles import Role
from storage.db import session_factory
from storage.invites import InvitesRepo
from storage.models import ConsentRecord, InboxKey, Person
from storage.models_help import Escalation
from tests.harness import Chat, Recorder, start_app
from tests.security.support import TABLES, fresh_db, lessons_for, logged_errors, web_app

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROUTER = build_router()
ROLES = ["villager", "mentor", "official", "declined", "deleted"]
# Who may use a route that requires this role: written out here, not taken from bot.roles, so the test is an
# independent statement of the policy.
MAY: dict[Role, set[str]] = {
    Role.ANYONE: set(ROLES),
    Role.VILLAGER: {"villager", "mentor", "official"},
    Role.MENTOR: {"mentor"},
    Role.OFFICIAL: {"official"},
    Role.HELPER: {"mentor", "official"},
}
REFUSAL = "Xin lỗi, chức năng này dành cho người khác ạ."
CONSENT_PROMPT = "Bác có đồng ý không ạ?"
# What refusing may write to the person's row: the choices now offered (the menu), the flow reset, the time.
REFUSAL_STATE_KEYS = {"offered", "labels", "numbered", "flow"}


# ---- the world: one app, one person per role ----------------------------------------------------

@dataclass
class World:
    app: App
    recorder: Recorder
    chats: dict[str, Chat]
    baseline: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def restore(self, role: str) -> None:
        """Put this role's person back as set up, so each case starts the same (an allowed route may have
        changed their flow, a flag, or recorded a declined consent)."""
        ref = self.chats[role].person
        async with session_factory(self.app.db)() as session, session.begin():
            person = (await session.scalars(select(Person).where(Person.ref == ref))).first()
            if role in self.baseline:
                assert person is not None, f"{role}'s person row disappeared"
                for column, value in self.baseline[role].items():
                    setattr(person, column, value)
                return
            assert person is None, f"a {role} person got a people row"
            records = delete(ConsentRecord).where(ConsentRecord.person_ref == ref)
            if role == "declined":  # keep exactly their one "không đồng ý"
                records = records.where(ConsentRecord.granted.is_(True))
            await session.execute(records)


async def dump(app: App) -> dict[str, Any]:
    """Every row of every table but the inbox keys (refusing records one) and the people, which are compared
    column by column."""
    rows: dict[str, Any] = {}
    async with session_factory(app.db)() as session:
        for table in TABLES:
            if table.name in ("inbox_keys", "people"):
                continue
            rows[table.name] = sorted(map(repr, (await session.execute(select(table))).all()))
    return rows


async def person_columns(app: App, ref: str) -> dict[str, Any] | None:
    async with session_factory(app.db)() as session:
        row = (await session.execute(select(Person.__table__).where(Person.ref == ref))).first()
        return None if row is None else dict(row._mapping)  # every column, the deferred totals included


async def inbox_keys(app: App) -> int:
    async with session_factory(app.db)() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxKey)) or 0)


async def make(app: App, chat: Chat, *, mentor: bool = False, official: bool = False, name: str | None = None) -> None:
    await chat.onboard()
    async with session_factory(app.db)() as session, session.begin():
        person = (await session.scalars(select(Person).where(Person.ref == chat.person))).one()
        person.is_mentor, person.is_official, person.display_name = mentor, official, name


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    folder = tmp_path_factory.mktemp("access")
    app, recorder = await start_app(await fresh_db(folder), lessons=lessons_for(folder))
    chats = {role: Chat(app, recorder, person=f"test:{role}") for role in [*ROLES, "both"]}
    await make(app, chats["villager"])
    await make(app, chats["mentor"], mentor=True, name="Lan")
    await make(app, chats["official"], official=True, name="Chị Hoa")
    await make(app, chats["both"], mentor=True, official=True, name="Anh Ba")
    await chats["declined"].say("/start")
    await chats["declined"].press("Không đồng ý")
    await chats["deleted"].onboard()
    await chats["deleted"].say("/xoadulieu")
    await chats["deleted"].press("🗑 Xóa hết dữ liệu")
    world = World(app, recorder, chats)
    for role in ("villager", "mentor", "official", "both"):
        columns = await person_columns(app, chats[role].person)
        assert columns is not None
        world.baseline[role] = {key: value for key, value in columns.items()
                                if key not in ("id", "ref", "created_at", "last_seen_at")} | {"state": {}}
    assert await person_columns(app, chats["deleted"].person) is None
    yield world
    await app.close()


# ---- the table ----------------------------------------------------------------------------------

def cases_of_routes() -> list[Any]:
    params = []
    for kind, table in (("command", ROUTER.commands), ("choice", ROUTER.choices), ("flow", ROUTER.flows)):
        for name, route in sorted(table.items()):
            for role in ROLES:
                if kind == "flow" and role in ("declined", "deleted"):
                    continue  # no people row, so no saved flow to be in
                params.append(pytest.param(kind, name, route.requires, role, id=f"{kind}-{name}-{role}"))
    return params


async def send(world: World, role: str, kind: str, name: str, value: str = "1:2:3") -> list[Reply]:
    chat = world.chats[role]
    if kind == "command":
        return await chat.say(f"/{name}")
    if kind == "choice":
        return await chat.choose(f"{name}:{value}")
    async with session_factory(world.app.db)() as session, session.begin():  # they are in the middle of it
        person = (await session.scalars(select(Person).where(Person.ref == chat.person))).one()
        person.state = {"flow": name}
    return await chat.say("abc")


@pytest.mark.parametrize(("kind", "name", "requires", "role"), cases_of_routes())
async def test_every_route_for_every_role(world: World, caplog: pytest.LogCaptureFixture, kind: str, name: str,
                                          requires: Role, role: str) -> None:
    await world.restore(role)
    ref = world.chats[role].person
    before_rows = await dump(world.app)
    before_person = await person_columns(world.app, ref)
    before_keys = await inbox_keys(world.app)
    replies = await send(world, role, kind, name)
    text = "\n".join(reply.text for reply in replies)
    assert SORRY not in text, f"{kind} {name!r} crashed for a {role}"
    assert logged_errors(caplog) == []
    if role in MAY[requires]:
        assert replies, "an allowed route answered nothing"
        return
    # Refused: the polite refusal (or, with no profile, the consent prompt) and nothing else.
    assert len(replies) == 1, text
    assert (REFUSAL if before_person is not None else CONSENT_PROMPT) in text, text
    assert await dump(world.app) == before_rows
    assert await inbox_keys(world.app) == before_keys + 1
    after_person = await person_columns(world.app, ref)
    if before_person is None:
        assert after_person is None
        return
    assert after_person is not None
    ignored = {"state", "last_seen_at"}
    assert {k: v for k, v in after_person.items() if k not in ignored} == \
        {k: v for k, v in before_person.items() if k not in ignored}
    old, new = before_person["state"], after_person["state"]
    changed = {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
    assert changed <= REFUSAL_STATE_KEYS, changed


async def test_the_table_covers_every_route() -> None:
    """The router has what the table iterates over (so a route added later is tested automatically)."""
    assert {"start", "nhan", "xong", "moitnv", "thongbao", "xoadulieu"} <= set(ROUTER.commands)
    assert {"consent", "claim", "done", "bcsend", "mentorok", "erase"} <= set(ROUTER.choices)
    assert {route.requires for route in [*ROUTER.commands.values(), *ROUTER.choices.values()]} == set(Role)


# ---- forged numbers in buttons, command arguments and typed answers ---------------------------------

D1 = ("D1: str.isdigit() then int(): '²' passes isdigit() and int('²') raises ValueError in the handler "
      "(or in bot.choices.as_choice), so the person gets the 'trục trặc' apology and an exception is logged")
D2 = ("D2: an id from a payload or argument goes to SQL unbounded: 99999999999999999999 raises OverflowError "
      "('Python int too large to convert to SQLite INTEGER') in the handler")
BAD_NUMBERS = {"²": D1, "99999999999999999999": D2}
# Found by running this table (`--runxfail`): each (route, payload shape, number) that crashes today.
CRASHING = {
    ("choice", "bcno", "{n}"), ("choice", "bcsend", "{n}"), ("choice", "canned", "{n}"),
    ("choice", "canned", "{n}:{n}:{n}"), ("choice", "claim", "{n}"), ("choice", "consent", "{n}:{n}:{n}"),
    ("choice", "ct", "{n}:{n}:{n}"), ("choice", "done", "{n}"), ("choice", "done", "{n}:{n}:{n}"),
    ("choice", "join", "{n}"), ("choice", "meet", "{n}"), ("choice", "meetdone", "{n}"), ("choice", "meetok", "{n}"),
    ("choice", "meetother", "{n}"), ("choice", "phone", "{n}"), ("choice", "phone", "{n}:{n}:{n}"),
    ("choice", "quick", "{n}"), ("choice", "quick", "{n}:{n}:{n}"), ("choice", "rate", "{n}"),
    ("choice", "rate", "{n}:{n}:{n}"), ("choice", "reopen", "{n}"), ("choice", "reopen", "{n}:{n}:{n}"),
    ("choice", "sendlesson", "{n}"), ("choice", "sendlesson", "{n}:{n}:{n}"), ("command", "nhan", "{n}"),
    ("command", "xong", "{n}"),
}
CRASHING_ONLY_WITH = {  # crashes with one of the two numbers only
    ("choice", "hamlet", "{n}"): "²", ("choice", "hamletpage", "{n}"): "²", ("choice", "learn", "{n}"): "²",
    ("choice", "consent", "{n}:{n}:{n}"): "²", ("flow", "bc_hamlet", "{n}"): "²", ("flow", "hamlet", "{n}"): "²",
    ("flow", "mentor_hamlets", "{n}"): "²", ("flow", "tr_hamlet", "{n}"): "²",
}


def forged_cases() -> list[Any]:
    params = []
    for kind, table in (("command", ROUTER.commands), ("choice", ROUTER.choices), ("flow", ROUTER.flows)):
        shapes = ["{n}"] if kind != "choice" else ["{n}", "{n}:{n}:{n}"]
        for name in sorted(table):
            for shape in shapes:
                for number in BAD_NUMBERS:  # D1/D2 (were strict xfails): Inbound keeps digits plain, ids small
                    params.append(pytest.param(kind, name, shape.format(n=number),
                                               id=f"{kind}-{name}-{shape.format(n=number)[:24]}"))
    return params


@pytest.mark.parametrize(("kind", "name", "value"), forged_cases())
async def test_forged_numbers_get_a_polite_answer(world: World, caplog: pytest.LogCaptureFixture, kind: str,
                                                  name: str, value: str) -> None:
    """Someone with every role ('both': a mentor and an official) sends each route a number that is not a plain
    decimal ('²') or is too large for the database: the answer is polite, nothing is logged as an error."""
    await world.restore("both")
    chat = world.chats["both"]
    if kind == "command":
        replies = await chat.say(f"/{name} {value}")
    elif kind == "choice":
        replies = await chat.choose(f"{name}:{value}")
    else:
        async with session_factory(world.app.db)() as session, session.begin():
            person = (await session.scalars(select(Person).where(Person.ref == chat.person))).one()
            person.state = {"flow": name}
        replies = await chat.say(value)
    assert SORRY not in "\n".join(reply.text for reply in replies)
    assert logged_errors(caplog) == []


# ---- mentors: a case held by one is closed to the others ------------------------------------------

async def invite_code(app: App) -> str:
    async with session_factory(app.db)() as session, session.begin():
        return await InvitesRepo(session).create("mentor", app.engine._community.commune_id, dt.timedelta(days=7))


async def become_mentor(app: App, chat: Chat, name: str, hamlets: str) -> None:
    await chat.onboard(hamlet="Xóm 1", age="16–29")
    await chat.say(f"/tnv {await invite_code(app)}")
    await chat.press("✅ Đồng ý")
    await chat.say(name)
    await chat.say(hamlets)
    assert "Bạn phụ trách" in chat.text


QUESTION = "Bác không thấy nút QR ở đâu cả"


async def stuck_villager(app: App, recorder: Recorder) -> Chat:
    villager = Chat(app, recorder, person="test:villager")
    await villager.onboard(hamlet="Xóm 2")
    await villager.press("📚 Học bài")
    await villager.press("Bài thử")
    await villager.press("Bài 1")
    await villager.press("❓ Chưa hiểu")
    await villager.press("✅ Đồng ý")
    await villager.say(QUESTION)
    assert "đã báo tình nguyện viên" in villager.text
    return villager


async def the_case(app: App) -> Escalation:
    async with session_factory(app.db)() as session:
        return (await session.scalars(select(Escalation))).one()


@dataclass
class HelpWorld:
    app: App
    recorder: Recorder
    lan: Chat
    minh: Chat
    villager: Chat
    case_id: int

    def inbox(self, who: Chat, since: int) -> list[Reply]:
        return [reply for person, reply in self.recorder.sent[since:] if person == who.person]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def helping(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HelpWorld]:
    """Lan and Minh mentor Xóm 2; a villager there asked for help; Lan took the request."""
    folder = tmp_path_factory.mktemp("helping")
    app, recorder = await start_app(await fresh_db(folder), lessons=lessons_for(folder))
    lan, minh = Chat(app, recorder, person="test:lan"), Chat(app, recorder, person="test:minh")
    await become_mentor(app, lan, "Lan", "2")
    await become_mentor(app, minh, "Minh", "2")
    villager = await stuck_villager(app, recorder)
    case = await the_case(app)
    await lan.choose(f"claim:{case.id}")
    assert "Bạn đã nhận yêu cầu" in lan.text
    yield HelpWorld(app, recorder, lan, minh, villager, case.id)
    await app.close()


OTHERS_ACTIONS = ["/nhan {id}", "/xong {id}", "/xong", "claim:{id}", "done:{id}", "quick:{id}", "canned:{id}:0",
                  "sendlesson:{id}", "meet:{id}"]


@pytest.mark.parametrize("action", OTHERS_ACTIONS)
async def test_a_mentor_cannot_see_or_act_on_a_case_another_mentor_holds(helping: HelpWorld, action: str) -> None:
    world = helping
    before = await the_case(world.app)
    mark = len(world.recorder.sent)
    step = action.format(id=world.case_id)
    replies = await (world.minh.say(step) if step.startswith("/") else world.minh.choose(step))
    text = "\n".join(reply.text for reply in replies)
    assert replies and SORRY not in text
    assert QUESTION not in text and "Người dân ở" not in text, "the case's details were shown to another mentor"
    if action.startswith(("/nhan", "claim")):
        assert "đã có bạn Lan nhận" in text
    assert world.inbox(world.villager, mark) == [] and world.inbox(world.lan, mark) == []
    after = await the_case(world.app)
    assert (after.status, after.claimed_by, after.resolved_at, after.level) == \
        (before.status, before.claimed_by, before.resolved_at, before.level)
    # Nor can Minh's typing reach the villager afterwards.
    mark = len(world.recorder.sent)
    await world.minh.say("Chào bác, cháu là Minh")
    assert world.inbox(world.villager, mark) == []


async def test_the_case_list_of_another_mentor_does_not_offer_a_taken_case(helping: HelpWorld) -> None:
    await helping.minh.say("/ca")
    assert f"#{helping.case_id}" not in helping.minh.text
    assert f"claim:{helping.case_id}" not in [c.payload for r in helping.minh.last for c in r.flat_choices()]


# ---- relayed messages: no account refs, no phone numbers ---------------------------------------------

D7 = ("D7: handlers/cases.mask_phones only knows digits joined by at most one space, dot or dash after a '0' or "
      "'84' with no bracket: '(+84) 912 345 678', '(024) 3825 1234', double spaces, slashes, full-width digits "
      "and zero-width spaces all reach the other side unmasked")
PHONES = [
    pytest.param("0912 345 678", "912345678", id="spaced"),
    pytest.param("0912.345.678", "912345678", id="dotted"),
    pytest.param("0912-345-678", "912345678", id="dashed"),
    pytest.param("+84 912 345 678", "912345678", id="international"),
    pytest.param("84912345678", "912345678", id="84-joined"),
    pytest.param("024 3825 1234", "2438251234", id="landline"),
    pytest.param("0912\u00a0345\u00a0678", "912345678", id="nbsp"),
    pytest.param("(+84) 912 345 678", "912345678", id="bracketed-84"),
    pytest.param("(024) 3825 1234", "2438251234", id="bracketed-area"),
    pytest.param("0912  345  678", "912345678", id="double-spaces"),
    pytest.param("0912/345/678", "912345678", id="slashes"),
    pytest.param("０９１２３４５６７８", "912345678", id="full-width"),
    pytest.param("0912\u200b345\u200b678", "912345678", id="zero-width"),
]


def leaks(text: str, digits: str) -> bool:
    visible = unicodedata.normalize("NFKC", text)
    return digits in re.sub(r"\D", "", visible)


@pytest.mark.parametrize(("phone", "digits"), PHONES)
async def test_relayed_messages_carry_no_phone_number_and_no_ref(helping: HelpWorld, phone: str, digits: str) -> None:
    world = helping
    mark = len(world.recorder.sent)
    await world.villager.say(f"Bác gọi số {phone} nhé")
    to_lan = world.inbox(world.lan, mark)
    assert to_lan, "nothing was relayed"
    await world.lan.say(f"Cháu gọi từ số {phone} ạ")
    to_villager = world.inbox(world.villager, mark)
    assert to_villager, "nothing was relayed back"
    for reply in [*to_lan, *to_villager]:
        assert "test:" not in reply.text and world.villager.person not in reply.text
        assert not leaks(reply.text, digits), reply.text


async def test_the_request_a_mentor_is_pinged_with_names_nobody(helping: HelpWorld) -> None:
    pings = [reply for person, reply in helping.recorder.sent if person == helping.minh.person
             and "Yêu cầu hỗ trợ #" in reply.text]
    assert pings
    for reply in pings:
        assert "test:" not in reply.text and "Người dân ở Xóm 2" in reply.text


# ---- the web chat cookie and cross-site posts --------------------------------------------------------
# tests/channels/test_web_chat.py already proves: the page's cookie is HttpOnly, SameSite=Strict, Path=/
# (test_page_is_served_with_a_private_session_cookie), and a POST with a foreign Origin or Sec-Fetch-Site:
# cross-site is refused with 403 and stores nothing (test_cross_site_posts_are_refused_and_store_nothing).
# Below: the cookie the API itself hands out, and the cross-site shapes those tests do not send.

async def test_the_cookie_the_api_sets_is_private_too(tmp_path: pathlib.Path) -> None:
    async with web_app(tmp_path) as (_, client):
        for method, path, options in (("POST", "/api/send", {"json": {"text": "/start"}}),
                                      ("GET", "/api/messages", {"params": {"after": "0"}})):
            client.session.cookie_jar.clear()  # a first visit: no cookie yet
            response = await client.request(method, path, **options)
            assert response.status == 200
            cookies = [h for h in response.headers.getall("Set-Cookie", []) if h.startswith(f"{COOKIE}=")]
            assert len(cookies) == 1
            flags = {part.strip().lower() for part in cookies[0].split(";")}
            assert {"httponly", "samesite=strict", "path=/"} <= flags


@pytest.mark.parametrize("headers", [{"Origin": "null"}, {"Sec-Fetch-Site": "same-site"},
                                     {"Origin": "http://127.0.0.1:1"}, {"Origin": "http://evil.example",
                                                                        "Sec-Fetch-Site": "same-origin"}],
                         ids=["null-origin", "same-site", "other-port", "foreign-origin-claiming-same-origin"])
async def test_more_cross_site_posts_are_refused(tmp_path: pathlib.Path, headers: dict[str, str]) -> None:
    async with web_app(tmp_path) as (app, client):
        for body in ({"text": "/start"}, {"choice": "consent:yes"}):
            response = await client.post("/api/send", json=body, headers=headers)
            assert response.status == 403
        assert await inbox_keys(app) == 0


# ---- webhook secrets: compared in constant time ------------------------------------------------------

@pytest.mark.parametrize("webhook", [TelegramChannel.webhook, ZaloChannel.webhook], ids=["telegram", "zalo"])
async def test_webhook_secrets_are_compared_in_constant_time(webhook: Any) -> None:
    """Together with the behavioural 401 tests in test_bad_input.py (wrong, missing, near-miss and random
    secrets store nothing): the comparison itself is hmac.compare_digest, never ==."""
    source = inspect.getsource(webhook)
    assert "hmac.compare_digest(" in source
    assert not re.search(r"(==|!=)\s*secret|secret[\w.()]*\s*(==|!=)|given\s*(==|!=)|(==|!=)\s*given", source)
    before_body = source.split("compare_digest", 1)[0]
    assert "request.json" not in before_body and "request.read" not in before_body  # checked before reading
