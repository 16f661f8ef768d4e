"""The web chat over real HTTP: the page, the JSON API, a whole lesson, dedupe, refusals, long-poll, restart.

Each test builds the real app (migrated SQLite file under tmp_path, real engine and handlers) and talks to
`App.web_app` through aiohttp's TestServer/TestClient, the way the page's script does.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import App, build
from bot.channels.markup import to_html
from bot.channels.web import COOKIE
from bot.settings import Settings
from handlers.voice import ELDER
from lessons import catalog as lesson_catalog
from lessons.schema import Lesson, Question, TypedAnswer
from storage.db import create_engine, session_factory
from storage.models import ConsentRecord, InboxKey, LessonProgress, Person
from storage.people import PeopleRepo
from tests.harness import database_url, settings_for

AGREE = "✅ Đồng ý"
CONTINUE = "▶ Tiếp tục"
DID_IT = "✅ Làm được rồi"
SKIP = "Bỏ qua bước này"
LEARN = "📚 Học bài"
TRACK = "Zalo"
DONE = "đã hoàn thành bài"
STEP = re.compile(r"Bước (\d+)/(\d+)")


# ---- helpers -------------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def running(db: pathlib.Path, cookie: str | None = None) -> AsyncIterator[tuple[App, TestClient[Any, Any]]]:
    """The real app on a test server, and a client (with this cookie, if given) that talks to it."""
    app = await build(web_settings(db))
    client: TestClient[Any, Any] = TestClient(TestServer(app.web_app))
    await client.start_server()
    if cookie is not None:
        client.session.cookie_jar.update_cookies({COOKIE: cookie}, client.make_url("/"))
    try:
        yield app, client
    finally:
        await client.close()
        await app.close()


def web_settings(db: pathlib.Path, **extra: Any) -> Settings:
    """settings_for() with the web chat on."""
    return settings_for(db, web_chat=True, **extra)


def cookie_of(client: TestClient[Any, Any]) -> str:
    values = [c.value for c in client.session.cookie_jar if c.key == COOKIE]
    assert len(values) == 1, f"expected one {COOKIE} cookie, got {values}"
    return values[0]


def origin_of(client: TestClient[Any, Any]) -> str:
    url = client.make_url("/")
    return f"{url.scheme}://{url.host}:{url.port}"


def unaccented(text: str) -> str:
    """What someone typing without Vietnamese diacritics would send: "Không quét" → "Khong quet"."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class WebUser:
    """One browser session talking to the API like the page does: it sends the highest seq it has seen and
    the mailbox epoch with each post and poll, and remembers the replies it got."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.seen = 0  # the highest message seq received
        self.epoch: str | None = None  # the server mailbox that seq belongs to
        self.latest: list[dict[str, Any]] = []

    async def post(self, body: dict[str, Any], **kwargs: Any) -> ClientResponse:
        return await self.client.post("/api/send", json=body, **kwargs)

    def where(self) -> dict[str, Any]:
        return {"after": self.seen, **({"epoch": self.epoch} if self.epoch is not None else {})}

    def receive(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        assert isinstance(data.get("epoch"), str) and data["epoch"], data
        messages: list[dict[str, Any]] = data["messages"]
        for message in messages:
            assert set(message) >= {"seq", "html", "choices", "image"}, message
        seqs = [m["seq"] for m in messages]
        assert seqs == sorted(set(seqs)), seqs
        assert all(seq <= data["last"] for seq in seqs), data
        if data["epoch"] == self.epoch:
            assert all(seq > self.seen for seq in seqs), (self.seen, seqs)
        self.epoch, self.seen = data["epoch"], data["last"]
        return messages

    async def send(self, *, text: str | None = None, choice: str | None = None,
                   msg_id: str | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"id": msg_id or uuid.uuid4().hex, **self.where()}
        if text is not None:
            body["text"] = text
        if choice is not None:
            body["choice"] = choice
        response = await self.post(body)
        assert response.status == 200, await response.text()
        self.latest = self.receive(await response.json())
        return self.latest

    async def poll(self, wait: int = 0) -> dict[str, Any]:
        """GET /api/messages for what is newer than what this page has (does not update it)."""
        params = {key: str(value) for key, value in self.where().items()}
        response = await self.client.get("/api/messages", params={**params, "wait": str(wait)})
        assert response.status == 200, await response.text()
        data: dict[str, Any] = await response.json()
        return data

    async def say(self, text: str) -> list[dict[str, Any]]:
        return await self.send(text=text)

    async def press(self, label: str) -> list[dict[str, Any]]:
        """Press the button with exactly this label on the newest message that offers it."""
        for message in reversed(self.latest):
            for row in message["choices"]:
                for choice in row:
                    if choice["label"] == label:
                        return await self.send(choice=choice["payload"])
        raise AssertionError(f"no button {label!r} among {self.labels()}; messages: {self.text}")

    def labels(self) -> list[str]:
        return [c["label"] for m in self.latest for row in m["choices"] for c in row]

    @property
    def text(self) -> str:
        return "\n---\n".join(m["html"] for m in self.latest)

    async def open_page(self) -> None:
        response = await self.client.get("/")
        assert response.status == 200

    async def onboard(self) -> None:
        """/start, consent, a hamlet, an age group: ends at the main menu."""
        await self.open_page()
        await self.say("/start")
        await self.press(AGREE)
        assert "Xóm 2" in self.labels(), self.labels()
        await self.press("Xóm 2")
        await self.press("Từ 60 tuổi")
        assert LEARN in self.labels(), self.text

    async def open_first_lesson(self) -> Lesson:
        """From the menu: the Zalo track, "Bài 1"; returns that lesson as the catalog has it."""
        lesson = zalo_first_lesson()
        await self.press(LEARN)
        await self.press(TRACK)
        await self.press("Bài 1")
        assert step_of(self.text) == (1, len(lesson.steps)), self.text
        return lesson


def zalo_first_lesson() -> Lesson:
    catalog = lesson_catalog.load()
    track = next(t for t in catalog.tracks if (t.button or t.title) == TRACK)
    return catalog.by_track[track.id][0]


def step_of(html: str) -> tuple[int, int] | None:
    found = STEP.findall(html)
    return (int(found[-1][0]), int(found[-1][1])) if found else None


def asked(lesson: Lesson, user: WebUser) -> Question | None:
    """The quiz question the newest message with choices asks, if it is one."""
    with_choices = [m for m in user.latest if m["choices"]]
    if not with_choices:
        return None
    html = with_choices[-1]["html"]
    return next((q for q in lesson.quiz.questions if to_html(ELDER.adapt(q.stem)) in html), None)


async def count(db: pathlib.Path, model: type[Any]) -> int:
    engine = create_engine(database_url(db))
    try:
        async with session_factory(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        await engine.dispose()


async def person_row(db: pathlib.Path, ref: str) -> Person | None:
    engine = create_engine(database_url(db))
    try:
        async with session_factory(engine)() as session:
            return await PeopleRepo(session).by_ref(ref)
    finally:
        await engine.dispose()


async def progress_row(db: pathlib.Path, lesson_id: str) -> LessonProgress | None:
    engine = create_engine(database_url(db))
    try:
        async with session_factory(engine)() as session:
            return (await session.scalars(select(LessonProgress).where(LessonProgress.lesson_id == lesson_id))
                    ).first()
    finally:
        await engine.dispose()


# ---- the page ------------------------------------------------------------------------------------

async def test_page_is_served_with_a_private_session_cookie(tmp_path: pathlib.Path) -> None:
    async with running(tmp_path / "bot.db") as (_, client):
        response = await client.get("/")
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
        assert '<html lang="vi">' in page and "/api/send" in page

        cookies = [h for h in response.headers.getall("Set-Cookie", []) if h.startswith(f"{COOKIE}=")]
        assert len(cookies) == 1, response.headers.getall("Set-Cookie", [])
        flags = [part.strip().lower() for part in cookies[0].split(";")]
        assert "httponly" in flags
        assert "samesite=strict" in flags
        assert "path=/" in flags
        value = cookies[0].split(";", 1)[0].partition("=")[2]
        assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", value), value

        # A returning visitor keeps the cookie they have: no new one is issued.
        again = await client.get("/")
        assert again.status == 200
        assert not [h for h in again.headers.getall("Set-Cookie", []) if h.startswith(f"{COOKIE}=")]
        assert cookie_of(client) == value


# ---- a whole lesson ------------------------------------------------------------------------------

async def test_a_whole_lesson_over_http(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "bot.db"
    async with running(db) as (_, client):
        user = WebUser(client)
        await user.open_page()
        await user.say("/start")
        assert AGREE in user.labels(), user.text
        await user.press(AGREE)
        await user.press("Xóm 1")
        await user.press("Từ 60 tuổi")
        lesson = await user.open_first_lesson()

        steps_seen: list[int] = [1]
        questions_right: list[str] = []
        for _ in range(4 * (len(lesson.steps) + len(lesson.quiz.questions))):
            if DONE in user.text:
                break
            question = asked(lesson, user)
            if question is not None:
                await user.press(question.answer)
                questions_right.append(question.id)
            elif DID_IT in user.labels():
                await user.press(DID_IT)
            elif CONTINUE in user.labels():
                await user.press(CONTINUE)
            elif SKIP in user.labels():
                await user.press(SKIP)
            else:
                raise AssertionError(f"stuck: {user.labels()} / {user.text}")
            step = step_of(user.text)
            if step is not None and DONE not in user.text:
                assert step == (steps_seen[-1] + 1, len(lesson.steps)), (steps_seen, user.text)
                steps_seen.append(step[0])
        else:
            raise AssertionError(f"the lesson never ended: {user.text}")

        assert steps_seen == list(range(1, len(lesson.steps) + 1))
        assert questions_right == [q.id for q in lesson.quiz.questions]
        assert DONE in user.text
        assert to_html(f"**{lesson.title}**") in user.text

        # Everything the person saw is still in the mailbox, in order, for a page that reloads.
        response = await client.get("/api/messages", params={"after": "0"})
        mailbox = (await response.json())["messages"]
        assert [m["seq"] for m in mailbox] == list(range(mailbox[0]["seq"], user.seen + 1))
        assert DONE in mailbox[-1]["html"]

    saved = await progress_row(db, lesson.id)
    assert saved is not None and saved.completed_at is not None
    assert saved.best_score == len(lesson.quiz.questions)


# ---- dedupe --------------------------------------------------------------------------------------

async def test_the_same_client_id_twice_is_answered_once(tmp_path: pathlib.Path) -> None:
    async with running(tmp_path / "bot.db") as (_, client):
        user = WebUser(client)
        await user.open_page()

        first = await user.send(text="/start", msg_id="start-1")
        assert first and AGREE in user.labels()
        last = user.seen
        again = await user.send(text="/start", msg_id="start-1")
        assert again == []
        assert user.seen == last

        consent = next(c["payload"] for m in first for row in m["choices"] for c in row if c["label"] == AGREE)
        before = user.seen
        answered = await user.send(choice=consent, msg_id="consent-1")
        assert answered and "Xóm 1" in user.labels()
        # A retry of the same post (the page lost the answer) gets the replies of the first one, not new ones.
        retry = await user.post({"choice": consent, "id": "consent-1", "after": before, "epoch": user.epoch})
        assert retry.status == 200
        retried = await retry.json()
        assert [m["seq"] for m in retried["messages"]] == [m["seq"] for m in answered]
        assert retried["last"] == user.seen

        mailbox = (await (await client.get("/api/messages", params={"after": "0"})).json())["messages"]
        assert len(mailbox) == len(first) + len(answered)
        hamlet_questions = [m for m in mailbox if any(c["label"] == "Xóm 1" for row in m["choices"] for c in row)]
        assert len(hamlet_questions) == 1

        # The id, not the text, is what makes a duplicate: the same text under a new id is answered.
        assert await user.send(text="/start", msg_id="start-2")


# ---- typing instead of pressing ------------------------------------------------------------------

async def test_typed_answers_without_diacritics_and_option_numbers(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "bot.db"
    async with running(db) as (_, client):
        user = WebUser(client)
        await user.open_page()
        await user.say("/start")
        await user.say("dong y")
        ref = f"web:{cookie_of(client)}"
        assert await person_row(db, ref) is not None, "typed «dong y» should count as consent"
        await user.say("2")  # the second hamlet, by its number
        person = await person_row(db, ref)
        assert person is not None and person.hamlet_id is not None
        await user.press("Từ 60 tuổi")
        lesson = await user.open_first_lesson()

        typed_practice = 0
        typed = 0
        for _ in range(4 * (len(lesson.steps) + len(lesson.quiz.questions))):
            if DONE in user.text:
                break
            question = asked(lesson, user)
            step = step_of(user.text)
            practice = lesson.steps[step[0] - 1].practice if step and question is None else None
            if question is not None:
                # Alternate the ways a person types an answer: its number, the words without marks
                # in capitals, and the words without marks with stray spaces.
                way = typed % 3
                typed += 1
                if way == 0:
                    await user.say(str(question.answer_index + 1))
                elif way == 1:
                    await user.say(unaccented(question.answer).upper())
                else:
                    await user.say(f"  {unaccented(question.answer).lower()} ")
                # Taken as an answer (the next question or the result), and as the right one.
                assert asked(lesson, user) is not question, f"typed answer not understood: {user.text}"
                assert not user.text.startswith("Chưa đúng"), user.text
            elif isinstance(practice, TypedAnswer):
                before = step
                await user.say(unaccented(practice.accept[0]).upper())
                typed_practice += 1
                assert step_of(user.text) != before, f"typed answer not accepted: {user.text}"
            elif DID_IT in user.labels():
                await user.press(DID_IT)
            elif CONTINUE in user.labels():
                await user.press(CONTINUE)
            else:
                raise AssertionError(f"stuck: {user.labels()} / {user.text}")
        else:
            raise AssertionError(f"the lesson never ended: {user.text}")

        assert typed == len(lesson.quiz.questions)
        assert typed_practice == sum(isinstance(s.practice, TypedAnswer) for s in lesson.steps)
        assert DONE in user.text

    saved = await progress_row(db, lesson.id)
    assert saved is not None and saved.completed_at is not None
    assert saved.best_score == len(lesson.quiz.questions), "every typed quiz answer should have counted as right"


# ---- refusals ------------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}],
                         ids=["origin", "sec-fetch-site"])
async def test_cross_site_posts_are_refused_and_store_nothing(tmp_path: pathlib.Path,
                                                               headers: dict[str, str]) -> None:
    db = tmp_path / "bot.db"
    victim = "V" * 32
    async with running(db, cookie=victim) as (_, client):
        user = WebUser(client)
        for body in ({"text": "/start"}, {"choice": "consent:yes"}, {"text": "dong y"}):
            response = await user.post({**body, "id": uuid.uuid4().hex}, headers=headers)
            assert response.status == 403, await response.text()

        assert await person_row(db, f"web:{victim}") is None
        assert await count(db, Person) == 0
        assert await count(db, ConsentRecord) == 0
        assert await count(db, InboxKey) == 0
        mailbox = await client.get("/api/messages", params={"after": "0"})
        assert (await mailbox.json())["messages"] == []

        # The same request from the page's own origin goes through (so the checks above can see a row).
        response = await user.post({"text": "dong y", "id": uuid.uuid4().hex}, headers={"Origin": origin_of(client)})
        assert response.status == 200, await response.text()
        assert await person_row(db, f"web:{victim}") is not None


@pytest.mark.parametrize(("data", "content_type"), [
    ('{"text": "/start"}', "text/plain"),
    ("text=%2Fstart", "application/x-www-form-urlencoded"),
])
async def test_a_body_that_is_not_json_is_refused(tmp_path: pathlib.Path, data: str, content_type: str) -> None:
    db = tmp_path / "bot.db"
    async with running(db) as (_, client):
        response = await client.post("/api/send", data=data, headers={"Content-Type": content_type})
        assert response.status == 415
        assert "error" in await response.json()
    assert await count(db, InboxKey) == 0


@pytest.mark.parametrize("data", ['{"text": "/start"', "{'text': 'hi'}", '["/start"]', "{}", '{"text": "   "}',
                                  b'{"text": "\xff\xfe"}'], ids=["cut", "quotes", "list", "empty", "blank", "bytes"])
async def test_broken_json_gets_400(tmp_path: pathlib.Path, data: str | bytes) -> None:
    db = tmp_path / "bot.db"
    async with running(db) as (_, client):
        response = await client.post("/api/send", data=data, headers={"Content-Type": "application/json"})
        assert response.status == 400, await response.text()
        assert "error" in await response.json()
    assert await count(db, InboxKey) == 0


async def test_a_huge_message_gets_a_clean_answer(tmp_path: pathlib.Path) -> None:
    async with running(tmp_path / "bot.db") as (_, client):
        user = WebUser(client)
        await user.open_page()
        await user.say("/start")

        huge = {"text": "a" * (1024 * 1024), "id": uuid.uuid4().hex}
        response = await user.post(huge)
        assert response.status in (200, 413), await response.text()
        if response.status == 200:
            assert (await response.json())["messages"]

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"text": "'
            for _ in range(16):
                yield b"a" * (64 * 1024)
            yield b'"}'

        streamed = await client.post("/api/send", data=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status == 413, await streamed.text()  # no Content-Length: the read itself is capped

        # A long text that fits is cut, handled and answered politely; the session still works after.
        long = await user.send(text="xin chào " * 3000)  # ~42 kB of JSON: under the 64 kB cap
        assert long and long[0]["html"]
        assert await user.send(text="dong y")
        assert "Xóm 1" in user.labels()


async def test_a_client_without_epoch_gets_only_its_own_replies(tmp_path: pathlib.Path) -> None:
    async with running(tmp_path / "bot.db") as (_, client):
        user = WebUser(client)
        await user.open_page()
        await user.say("/start")
        first = await (await user.post({"text": "xin chào"})).json()  # neither "after" nor "epoch"
        assert len(first["messages"]) == 1 and "đồng ý" in first["messages"][0]["html"]
        assert first["messages"][0]["seq"] == first["last"] > 1


# ---- long-poll -----------------------------------------------------------------------------------

async def test_long_poll_returns_as_soon_as_a_message_arrives(tmp_path: pathlib.Path) -> None:
    async with running(tmp_path / "bot.db") as (_, client):
        user = WebUser(client)
        await user.open_page()
        await user.say("/start")
        assert (await user.poll(wait=0))["messages"] == []

        loop = asyncio.get_running_loop()
        started = loop.time()
        waiting = asyncio.create_task(user.poll(wait=25))
        done, _ = await asyncio.wait({waiting}, timeout=0.5)
        assert not done, "the poll should wait while there is nothing new"

        answered = await user.say("dong y")
        got = await asyncio.wait_for(waiting, timeout=5)
        assert loop.time() - started < 5
        assert answered
        assert [m["seq"] for m in got["messages"]] == [m["seq"] for m in answered]
        assert got["last"] == user.seen and got["epoch"] == user.epoch


# ---- restart -------------------------------------------------------------------------------------

async def test_a_restart_resumes_at_the_same_step(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "bot.db"
    async with running(db) as (_, client):
        user = WebUser(client)
        await user.onboard()
        lesson = await user.open_first_lesson()
        await user.press(CONTINUE)
        await user.press(CONTINUE)
        where = step_of(user.text)
        assert where == (3, len(lesson.steps)), user.text
        step_message = user.latest[-1]
        assert step_message["choices"]
        cookie = cookie_of(client)
        old_epoch, old_seen = user.epoch, user.seen

    async with running(db, cookie=cookie) as (_, client):
        # The page stayed open: it still holds the old mailbox's epoch and sequence number.
        user.client = client
        await user.say("/start")
        assert user.epoch != old_epoch, "a new mailbox after a restart must say so"
        assert user.latest and user.latest[0]["seq"] == 1, "replies after a restart must reach the open page"
        assert user.seen < old_seen
        assert AGREE not in user.labels(), "a returning learner must not be asked to consent again"
        assert step_of(user.text) == where, user.text
        resumed = user.latest[-1]
        assert resumed["html"] == step_message["html"]
        assert resumed["choices"] == step_message["choices"]

        # The buttons of the resumed step work: the lesson goes on from there.
        for label in (DID_IT, CONTINUE, SKIP):
            if label in user.labels():
                await user.press(label)
                break
        assert step_of(user.text) == (where[0] + 1, where[1]), user.text
