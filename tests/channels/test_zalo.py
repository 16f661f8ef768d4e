"""The Zalo channel, for real: the app from `bot.app.build` (migrated SQLite file, engine, handlers, a copy of
the small test track) runs its Zalo channel against the fake Zalo Bot API (tests/fakes/zalo_api.py), polling or
with the webhook on the app's own HTTP server; what villagers would read is what the fake received.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
import logging
import pathlib
import re
import shutil
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update

from bot import delivery as delivery_module
from bot.app import App, build
from bot.channels import zalo as zalo_channel
from bot.channels import zalo_api
from bot.channels.base import Busy, ChannelEnv, DeliveryError
from bot.channels.zalo import NO_IMAGE, ZaloChannel, bare_label, choice_line, render
from bot.messages import Choice, Inbound, InboundKind, Reply
from bot.settings import ConfigError
from storage.db import session_factory
from storage.models import ConsentRecord, InboxKey, MediaFile, OutboxMessage, Person
from tests.fakes.zalo_api import Failure, FakeZalo
from tests.harness import TEST_LESSONS, settings_for

SECRET = "s3cret-webhook-token"


# ---- helpers -------------------------------------------------------------------------------------

def ends_with_menu(text: str) -> bool:
    """The message ends with the main menu as a numbered line ("Gõ 1 để Học bài · … Tiến độ của tôi …")."""
    labels = numbered(text)
    return labels[0] == "Học bài" and "Tiến độ của tôi" in labels


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def jpeg(size: tuple[int, int], *, noisy: bool = False) -> bytes:
    from PIL import Image

    picture = Image.effect_noise(size, 80).convert("RGB") if noisy else Image.new("RGB", size, "green")
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=95)
    return out.getvalue()


def png() -> bytes:
    """A real 1×1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
            + chunk(b"IEND", b""))


@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    server = FakeZalo()
    await server.start()
    yield server
    await server.stop()


def lessons_for(folder: pathlib.Path) -> pathlib.Path:
    """The test track "thu" with just its first two lessons, copied: other tests may add lessons and tracks."""
    target = folder / "lessons"
    if not target.exists():
        (target / "thu").mkdir(parents=True)
        for name in ("track.yaml", "bai-thu.yaml", "bai-hai.yaml"):
            shutil.copy(TEST_LESSONS / "thu" / name, target / "thu" / name)
    return target


def zalo_settings(db: pathlib.Path, fake: FakeZalo, *, webhook: bool = False, **extra: Any) -> Any:
    port = free_port()
    values: dict[str, Any] = {"zalo_token": SecretStr(fake.token), "zalo_api_url": fake.root,
                              "host": "127.0.0.1", "port": port, "lessons_dir": lessons_for(db.parent)}
    if webhook:
        values |= {"public_url": f"http://127.0.0.1:{port}", "webhook_secret": SecretStr(SECRET)}
    return settings_for(db, **(values | extra))


@contextlib.asynccontextmanager
async def running(db: pathlib.Path, fake: FakeZalo, **extra: Any) -> AsyncIterator[App]:
    app = await build(zalo_settings(db, fake, **extra))
    try:
        await app.serve()
        yield app
    finally:
        await app.close()


def channel_of(app: App) -> ZaloChannel:
    channel = app.engine.channels["zalo"]
    assert isinstance(channel, ZaloChannel)
    return channel


async def count(app: App, table: Any) -> int:
    async with session_factory(app.db)() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def person(app: App, ref: str) -> Person | None:
    async with session_factory(app.db)() as session:
        return (await session.scalars(select(Person).where(Person.ref == ref))).first()


async def deliver_until(app: App, fake: FakeZalo, predicate: Callable[[FakeZalo], bool],
                        timeout: float = 15.0) -> None:
    """Nudge the outbox (as the periodic sweep does, only more often) until the fake sees `predicate`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await app.engine.deliver_pending()
        try:
            await fake.wait_for(predicate, timeout=0.3)
            return
        except TimeoutError:
            if loop.time() > deadline:
                raise


class Villager:
    """Someone writing to the bot on Zalo, through polling (the fake hands out the update) or the webhook."""

    def __init__(self, app: App, fake: FakeZalo, user: str = "u1001", *, http: aiohttp.ClientSession | None = None,
                 wrapped: bool = False) -> None:
        self.app, self.fake, self.user, self.http, self.wrapped = app, fake, user, http, wrapped

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.app.settings.port}/zalo/webhook"

    async def post(self, body: Any, secret: str | None = SECRET) -> aiohttp.ClientResponse:
        assert self.http is not None
        headers = {"X-Bot-Api-Secret-Token": secret} if secret is not None else {}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.http.post(self.webhook_url, data=data, headers=headers | {
                "Content-Type": "application/json"}) as response:
            await response.read()
            return response

    async def send(self, update_: dict[str, Any]) -> list[str]:
        """Deliver one update and return the texts the bot answered it with (once all are sent)."""
        before = len(self.fake.delivered(self.user))
        if self.http is None:
            self.fake.queue(update_)
            await self.fake.wait_for(lambda f: len(f.delivered(self.user)) > before)
        else:
            response = await self.post({"ok": True, "result": update_} if self.wrapped else update_)
            assert response.status == 200
        await self.app.engine.drain()
        return self.fake.texts(self.user)[before:]

    async def say(self, text: str, message_id: str | None = None) -> list[str]:
        return await self.send(self.fake.text(self.user, text, message_id))

    async def onboard(self) -> None:
        await self.say("/start")
        await self.say("1")
        await self.say("2")
        assert ends_with_menu((await self.say("4"))[-1])


def numbered(text: str) -> list[str]:
    """The labels of the numbered line that must end `text` ("Gõ 1 để A · 2 để B" → ["A", "B"])."""
    last = text.rsplit("\n\n", 1)[-1]
    assert last.startswith("Gõ ") and "\n" not in last, f"no numbered line at the end of {text!r}"
    labels = []
    for number, part in enumerate(last.removeprefix("Gõ ").split(" · "), 1):
        shown, _, label = part.partition(" để ")
        assert shown == str(number) and label, last
        labels.append(label)
    return labels


def typed(text: str) -> list[str]:
    """The labels of the «…» line that ends `text` when the person is to type an answer (no numbers)."""
    last = text.rsplit("\n\n", 1)[-1]
    assert last.startswith("Hoặc gõ: «") and "Gõ 1" not in text, f"no typed-answer line at the end of {text!r}"
    return re.findall(r"«([^»]+)»", last)


def number_of(text: str, label: str) -> str:
    """What to type to choose `label` from the numbered line ending `text`."""
    return str(numbered(text).index(label) + 1)


async def onboarding_and_lesson(villager: Villager, consent: str) -> None:
    """/start → consent → hamlet by number → age by number → the test lesson (a step, a typed practice, a
    done-check) and its quiz, by numbers and by labels typed loosely."""
    got = await villager.say("/start")
    assert len(got) == 2 and "Cháu là Trợ lý số của xã Bạch Ngọc" in got[0]
    assert "Bác có đồng ý không ạ?" in got[1] and numbered(got[1]) == ["Đồng ý", "Không đồng ý"]

    got = await villager.say(consent)
    assert "Bác ở xóm nào ạ?" in got[-1] and "1. Xóm 1" in got[-1]
    assert typed(got[-1]) == ["Xóm 1", "Xóm 2", "Xem thêm"]  # typed digits mean the list above

    got = await villager.say("2")  # Xóm 2, by its number in the list
    assert numbered(got[-1]) == ["Dưới 16", "16–29", "30–59", "Từ 60 tuổi"]
    got = await villager.say("4")
    assert "Xong rồi ạ" in got[-1] and ends_with_menu(got[-1])
    got = await villager.say("17")  # out of range: the menu again
    assert "chưa hiểu" in got[-1] and ends_with_menu(got[-1])

    got = await villager.say(number_of(got[-1], "Học bài"))
    assert "1. Bài thử (0/2 bài)" in got[-1] and numbered(got[-1]) == ["Bài thử", "Về menu"]
    got = await villager.say("bai thu")  # the label, typed loosely
    assert "Chủ đề Bài thử" in got[-1] and "**" not in got[-1]
    assert numbered(got[-1]) == ["Bài 1", "Bài 2", "Về menu"]
    got = await villager.say("1")
    assert "Bài thử nghiệm" in got[0] and "Bước 1/3" in got[-1]
    assert {"Tiếp tục", "Nhắc lại", "Về menu"} <= set(numbered(got[-1]))

    got = await villager.say("tiep tuc")  # a label, typed loosely
    assert "Bước 2/3" in got[-1] and "Số tiền là bao nhiêu?" in got[-1]
    assert {"Nhắc lại", "Bỏ qua bước này", "Về menu"} <= set(typed(got[-1]))
    got = await villager.say("1")  # an answer here, not "choice 1"
    assert "Chưa đúng" in got[-1] and {"Nhắc lại", "Bỏ qua bước này", "Về menu"} <= set(typed(got[-1]))
    got = await villager.say("50.000")
    assert "Đúng rồi" in got[0] and "Bước 3/3" in got[-1] and "Bác bấm nút Xong" in got[-1]
    assert {"Làm được rồi", "Chưa làm được"} <= set(numbered(got[-1]))

    got = await villager.say(number_of(got[-1], "Làm được rồi"))
    assert "Giỏi quá" in got[0] and "3 câu hỏi nhỏ" in got[1]
    assert "Câu 1/3" in got[-1] and numbered(got[-1]) == ["Có", "Không", "Về menu"]
    got = await villager.say("2")
    assert "✅ Đúng rồi ạ!" in got[0]
    assert "Câu 2/3" in got[-1] and numbered(got[-1]) == [".com", ".gov.vn", ".net", "Về menu"]
    got = await villager.say("2")
    assert "✅ Đúng rồi ạ!" in got[0] and "Câu 3/3" in got[-1]
    got = await villager.say("CÓ")  # the label, in capitals
    assert "đúng 3/3 câu" in got[-1] and "đã hoàn thành bài Bài thử nghiệm" in got[-1]
    assert numbered(got[-1]) == ["Bài tiếp theo", "Về menu"]

    every = villager.fake.texts(villager.user)
    assert all(len(text) <= 2000 and "**" not in text for text in every)


# ---- polling and webhook: the whole way through ----------------------------------------------------

async def test_polling_onboarding_and_lesson_with_quiz(tmp_path: Any, fake: FakeZalo) -> None:
    async with running(tmp_path / "bot.db", fake) as app:
        await onboarding_and_lesson(Villager(app, fake), consent="1")
        methods = [call.method for call in fake.calls]
        assert methods[0] == "getMe" and "setWebhook" not in methods
        assert methods.index("deleteWebhook") < methods.index("getUpdates")
        assert fake.calls_to("getUpdates")[0].body == {"timeout": zalo_api.POLL_SECONDS}
        stored = await person(app, "zalo:u1001")
        assert stored is not None and stored.age_group == "60+"


@pytest.mark.parametrize("wrapped", [False, True], ids=["flat", "wrapped"])
async def test_webhook_onboarding_and_lesson_with_quiz(tmp_path: Any, fake: FakeZalo, wrapped: bool) -> None:
    async with running(tmp_path / "bot.db", fake, webhook=True) as app, aiohttp.ClientSession() as http:
        assert fake.webhook_url == f"http://127.0.0.1:{app.settings.port}/zalo/webhook"
        assert fake.webhook_secret == SECRET and not fake.calls_to("getUpdates")
        await onboarding_and_lesson(Villager(app, fake, http=http, wrapped=wrapped), consent="dong y")


async def test_webhook_same_message_twice_is_processed_once(tmp_path: Any, fake: FakeZalo) -> None:
    async with running(tmp_path / "bot.db", fake, webhook=True) as app, aiohttp.ClientSession() as http:
        villager = Villager(app, fake, http=http)
        first = await villager.say("/start", message_id="dup-1")
        again = await villager.say("/start", message_id="dup-1")
        assert len(first) == 2 and again == []
        wrapped = Villager(app, fake, http=http, wrapped=True)
        assert await wrapped.say("/start", message_id="dup-1") == []
        assert await count(app, InboxKey) == 1


async def test_webhook_refuses_wrong_secret_and_garbage(tmp_path: Any, fake: FakeZalo) -> None:
    async with running(tmp_path / "bot.db", fake, webhook=True) as app, aiohttp.ClientSession() as http:
        villager = Villager(app, fake, http=http)
        update_ = fake.text("u9", "dong y")
        for secret in ("wrong-secret-value", None, "", SECRET + "x", SECRET[:-1]):
            assert (await villager.post(update_, secret=secret)).status == 401
        for garbage in (b"{not json", b"", b"[1, 2]", b'"text"', {"foo": 1}, {"ok": True, "result": [1]}):
            assert (await villager.post(garbage)).status == 400
        await app.engine.drain()
        for table in (Person, InboxKey, ConsentRecord, OutboxMessage):
            assert await count(app, table) == 0, table.__name__
        assert fake.delivered() == []


# ---- long texts and images ---------------------------------------------------------------------------

async def test_a_3000_character_reply_arrives_as_two_messages(tmp_path: Any, fake: FakeZalo) -> None:
    sentences = [f"Câu số {n} nói về cách dùng điện thoại an toàn." for n in range(70)]
    text = " ".join(sentences)[:3000].rsplit(" ", 1)[0] + "."
    assert len(text) > 2900
    reply = Reply(text=text, choices=[[Choice(label="▶ Tiếp tục", payload="x")], [Choice(label="🏠 Về menu",
                                                                                            payload="menu")]])
    app = await build(zalo_settings(tmp_path / "bot.db", fake))
    try:
        await channel_of(app).send("zalo:u7", reply)
    finally:
        await app.close()
    sent = fake.calls_to("sendMessage")
    assert len(sent) == 2 and all(call.ok for call in sent)
    first, second = (str(call.body["text"]) for call in sent)
    assert len(first) <= 2000 and len(second) <= 2000 and first.endswith(".")  # cut after a sentence
    assert second.endswith("\n\nGõ 1 để Tiếp tục · 2 để Về menu") and "Gõ 1" not in first
    assert " ".join([first, second.rsplit("\n\n", 1)[0]]).split() == text.split()  # nothing lost
    assert {call.body["chat_id"] for call in sent} == {"u7"}


async def test_an_interrupted_long_reply_resumes_without_repeating(tmp_path: Any, fake: FakeZalo) -> None:
    reply = Reply(text="\n".join(f"Dòng {n}: bác đọc chậm từng chữ một nhé." for n in range(120)),
                  choices=[[Choice(label="▶ Tiếp tục", payload="x")]])
    fake.fail_next("sendMessage", Failure(503, "Service unavailable", after=1))
    app = await build(zalo_settings(tmp_path / "bot.db", fake))
    try:
        channel = channel_of(app)
        with pytest.raises(DeliveryError) as failed:
            await channel.send("zalo:u3", reply)
        assert not failed.value.permanent and fake.token not in str(failed.value)
        await channel.send("zalo:u3", reply)  # the outbox's retry: only what is missing goes out
        await channel.send("zalo:u3", reply)  # the same reply again later is a new message: all of it
    finally:
        await app.close()
    texts = fake.texts("u3")
    assert len(texts) == 6 and texts[:3] == texts[3:] and texts[0] != texts[1]
    assert texts[2].endswith("Gõ 1 để Tiếp tục") and all(len(text) <= 2000 for text in texts)


async def test_a_refused_photo_falls_back_to_text(tmp_path: Any, fake: FakeZalo) -> None:
    fake.fail_next("sendPhoto", Failure(400, "Bad Request: cannot fetch the photo"))
    async with running(tmp_path / "bot.db", fake, webhook=True) as app:
        await channel_of(app).send("zalo:u4", Reply(text="Mã QR mẫu.", image=png(), image_caption="Mã của xã"))
        await channel_of(app).send("zalo:u4", Reply(text="Ảnh động.", image=b"GIF89a-not-served"))
    assert [call.status for call in fake.calls_to("sendPhoto")] == [400]
    assert fake.texts("u4") == [f"Mã của xã\n\nMã QR mẫu.\n\n{NO_IMAGE}", f"Ảnh động.\n\n{NO_IMAGE}"]


async def test_an_image_is_sent_as_a_url_the_bot_serves(tmp_path: Any, fake: FakeZalo) -> None:
    image = png()
    async with running(tmp_path / "bot.db", fake, webhook=True) as app, aiohttp.ClientSession() as http:
        reply = Reply(text="Bác quét **mã này** nhé.", image=image, image_caption="Mã QR của xã",
                      choices=[[Choice(label="✅ Làm được rồi", payload="ok")]])
        await channel_of(app).send("zalo:u8", reply)
        photo, text = fake.delivered("u8")
        assert photo.method == "sendPhoto" and photo.body["caption"] == "Mã QR của xã"
        assert text.body["text"] == "Bác quét mã này nhé.\n\nGõ 1 để Làm được rồi"
        url = str(photo.body["photo"])
        root = f"http://127.0.0.1:{app.settings.port}/media/"
        assert url.startswith(root) and re.fullmatch(r"[A-Za-z0-9_-]{20,64}\.png", url[len(root):])
        async with http.get(url) as response:
            assert response.status == 200 and await response.read() == image
            assert response.headers["Content-Type"] == "image/png"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Cache-Control"] == "private, max-age=3600"
        token = url[len(root):-4]
        for other in (f"{token[:-1]}A.png" if token[-1] != "A" else f"{token[:-1]}B.png", "short.png",
                      f"{token}.jpg", "", f"..%2F{token}.png"):
            async with http.get(root + other) as response:
                assert response.status == 404, other
        async with session_factory(app.db)() as session, session.begin():
            await session.execute(update(MediaFile).values(expires_at=dt.datetime.now(dt.UTC)
                                                           - dt.timedelta(seconds=1)))
        async with http.get(url) as response:
            assert response.status == 404  # expired


async def test_a_forwarded_photo_is_served_as_jpeg(tmp_path: Any, fake: FakeZalo) -> None:
    photo = b"\xff\xd8\xff\xe0" + b"a villager's screenshot" * 50
    async with running(tmp_path / "bot.db", fake, webhook=True) as app, aiohttp.ClientSession() as http:
        await channel_of(app).send("zalo:m1", Reply(text="Ảnh người dân gửi:", image=photo))
        url = str(fake.delivered("m1")[0].body["photo"])
        assert url.endswith(".jpg")
        async with http.get(url) as response:
            assert response.status == 200 and response.headers["Content-Type"] == "image/jpeg"
            assert await response.read() == photo


async def test_without_a_public_url_images_go_as_text(tmp_path: Any, fake: FakeZalo,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.zalo")
    async with running(tmp_path / "bot.db", fake) as app:
        reply = Reply(text="Đây là mã QR mẫu.", image=png(), choices=[[Choice(label="🏠 Về menu", payload="m")]])
        await channel_of(app).send("zalo:u9", reply)
        await channel_of(app).send("zalo:u9", reply)
    assert not fake.calls_to("sendPhoto")
    assert fake.texts("u9") == [f"Đây là mã QR mẫu.\n\n{NO_IMAGE}\n\nGõ 1 để Về menu"] * 2
    notes = [r for r in caplog.records if "images are sent as text" in r.getMessage()]
    assert len(notes) == 1


# ---- faults ------------------------------------------------------------------------------------------

async def test_quota_exceeded_429_is_retried_after_retry_after(tmp_path: Any, fake: FakeZalo,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery_module, "RETRY_BASE_SECONDS", 0.05)  # so only retry_after can explain a wait
    fake.fail_next("sendMessage", Failure(429, "Quota exceeded", retry_after=1.5))
    async with running(tmp_path / "bot.db", fake) as app:
        fake.queue(fake.text("u5", "/start"))
        await deliver_until(app, fake, lambda f: len(f.delivered("u5")) == 2)
        refused, *rest = fake.calls_to("sendMessage")
        assert refused.status == 429 and [call.ok for call in rest] == [True, True]
        assert rest[0].at - refused.at >= 1.4  # retry_after honoured
        assert rest[0].body["text"] == refused.body["text"] and "Bác có đồng ý" in rest[1].body["text"]


async def test_server_errors_and_timeouts_are_retried_then_delivered_once(
        tmp_path: Any, fake: FakeZalo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(delivery_module, "RETRY_BASE_SECONDS", 0.05)
    monkeypatch.setattr(zalo_api, "CALL_TIMEOUT", 1.0)
    fake.fail_next("sendMessage", Failure(500, hang=5))  # hangs past the client's timeout
    fake.fail_next("sendMessage", Failure(500, "Internal error"), times=2)
    fake.fail_next("sendMessage", Failure(502, "Bad gateway"))
    async with running(tmp_path / "bot.db", fake) as app:
        fake.queue(fake.text("u6", "/start"))
        await deliver_until(app, fake, lambda f: len(f.delivered("u6")) == 2, timeout=20)
        texts = fake.texts("u6")
        assert "Trợ lý số" in texts[0] and "Bác có đồng ý" in texts[1]
        assert [call.status for call in fake.calls_to("sendMessage")][1:] == [500, 500, 502, 200, 200]
    assert fake.token not in caplog.text and "fake-zalo-token" not in caplog.text


async def test_403_marks_the_person_unreachable_until_they_write(tmp_path: Any, fake: FakeZalo) -> None:
    async with running(tmp_path / "bot.db", fake) as app:
        villager = Villager(app, fake, "u403")
        await villager.onboard()
        fake.fail_next("sendMessage", Failure(403, "User has blocked the bot"))
        tried = len(fake.calls_to("sendMessage"))
        fake.queue(fake.text("u403", "1"))  # → the track list (two replies: the second is dropped)
        await fake.wait_for(lambda f: len(f.calls_to("sendMessage")) > tried)
        await app.engine.drain()
        blocked = await person(app, "zalo:u403")
        assert blocked is not None and blocked.unreachable_since is not None
        assert await count(app, OutboxMessage) == 0
        await app.engine.deliver_pending()
        assert len(fake.calls_to("sendMessage")) == tried + 1  # not messaged again
        got = await villager.say("menu")  # they write: reachable again
        assert ends_with_menu(got[-1])
        back = await person(app, "zalo:u403")
        assert back is not None and back.unreachable_since is None


async def test_stickers_unsupported_and_unknown_events_get_a_kind_answer(tmp_path: Any, fake: FakeZalo) -> None:
    fake.fail_next("getUpdates", Failure(500, "Internal error"))  # the poller backs off and carries on
    async with running(tmp_path / "bot.db", fake) as app:
        villager = Villager(app, fake, "u77")
        await villager.onboard()
        fake.queue({"event_name": "message.text.received"}, {"event_name": 5, "message": "x"},
                   {"message": {"from": {"id": ["odd"]}}}, {})  # no sender: skipped, nothing breaks
        for update_ in (fake.sticker("u77"), fake.update("u77", "message.unsupported.received"),
                        fake.update("u77", "message.reaction.received", reaction="❤")):
            got = await villager.send(update_)
            assert len(got) == 1 and got[0].startswith("Cháu chưa đọc được loại tin này") and ends_with_menu(got[0])
        assert ends_with_menu((await villager.say("menu"))[-1])
        assert fake.calls_to("getUpdates")[0].status == 500


async def test_incoming_photos_are_downloaded_with_a_cap(tmp_path: Any, fake: FakeZalo,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    small, big = jpeg((40, 30)), jpeg((1600, 1200), noisy=True)  # real images: the bytes must be a picture
    assert len(small) < 10_000 < len(big)
    async with running(tmp_path / "bot.db", fake, max_photo_bytes=10_000) as app:
        seen: list[Inbound] = []
        handle = app.engine.handle

        async def spy(inbound: Inbound, **options: Any) -> bool:
            seen.append(inbound)
            return await handle(inbound, **options)

        monkeypatch.setattr(app.engine, "handle", spy)
        villager = Villager(app, fake, "u50")
        await villager.onboard()
        got = await villager.send(fake.image("u50", fake.add_file("small.jpg", small), caption="ảnh của bác"))
        assert seen[-1].kind is InboundKind.PHOTO and seen[-1].photo == small and not seen[-1].problem
        assert "đã nhận ảnh" in got[0]
        for name, chunked in (("big.jpg", False), ("big-stream.jpg", True)):
            got = await villager.send(fake.image("u50", fake.add_file(name, big, chunked=chunked)))
            assert seen[-1].problem == "photo_too_large" and seen[-1].photo is None
            assert "Ảnh này lớn quá" in got[0]
        got = await villager.send(fake.image("u50", f"{fake.root}/files/missing.jpg"))
        assert seen[-1].problem == "photo_unreadable" and "chưa mở được ảnh" in got[0]
        assert seen[-1].person == "zalo:u50" and seen[-1].key.startswith("zalo:m")


async def test_a_restart_keeps_the_numbering(tmp_path: Any, fake: FakeZalo) -> None:
    db = tmp_path / "bot.db"
    async with running(db, fake) as app:
        villager = Villager(app, fake, "u42")
        await villager.onboard()
        await villager.say("hoc bai")
        await villager.say("1")
        got = await villager.say("1")
        assert "Bước 1/3" in got[-1]
        go_on = number_of(got[-1], "Tiếp tục")
    async with running(db, fake) as app:  # a new process on the same database
        villager = Villager(app, fake, "u42")
        got = await villager.say(go_on)  # still means "Tiếp tục" of the step shown before the restart
        assert "Bước 2/3" in got[-1] and "Nhắc lại" in typed(got[-1])
        got = await villager.say("nhac lai")  # and the labels offered then are remembered too
        assert "Bước 2/3" in got[-1] and "Chưa đúng" not in got[-1]


# ---- configuration and rendering --------------------------------------------------------------------

@pytest.mark.parametrize("secret", [None, "short", "x" * 257, "ok-length-but-không-ascii"])
async def test_webhook_mode_needs_a_proper_secret(tmp_path: Any, fake: FakeZalo, secret: str | None) -> None:
    settings = zalo_settings(tmp_path / "bot.db", fake, public_url="https://bot.example.vn",
                             webhook_secret=SecretStr(secret) if secret is not None else None)
    env = ChannelEnv(settings=settings, handle=nothing, sessions=None, command_menu=list)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="HOCVUSO_WEBHOOK_SECRET"):
        ZaloChannel(env)
    ZaloChannel(ChannelEnv(settings=settings.model_copy(update={"webhook_secret": SecretStr("x" * 8)}),
                           handle=nothing, sessions=None, command_menu=list))  # type: ignore[arg-type]


async def nothing(inbound: Inbound) -> bool:
    return False


async def test_a_refused_token_stops_the_start_with_a_clear_error(tmp_path: Any, fake: FakeZalo) -> None:
    app = await build(zalo_settings(tmp_path / "bot.db", fake, zalo_token=SecretStr("999:not-the-token")))
    try:
        with pytest.raises(ConfigError, match="HOCVUSO_ZALO_TOKEN") as refused:
            await app.serve()
        assert "not-the-token" not in str(refused.value)
    finally:
        await app.close()


def test_rendering_without_buttons() -> None:
    assert bare_label("▶ Tiếp tục") == "Tiếp tục" and bare_label("Bài 2 ✅") == "Bài 2"
    assert bare_label("✍️ Gõ trả lời") == "Gõ trả lời" and bare_label("16–29") == "16–29"
    assert bare_label("🏠") == "🏠"  # nothing left: keep it as it was
    choices = [[Choice(label="▶ Tiếp tục", payload="a")], [Choice(label="🔁 Nhắc lại", payload="b")],
               [Choice(label="🏠 Về menu", payload="menu")]]
    assert choice_line(Reply(text="x", choices=choices)) == "Gõ 1 để Tiếp tục · 2 để Nhắc lại · 3 để Về menu"
    assert choice_line(Reply(text="x", choices=choices, numbered=False)) == (
        "Hoặc gõ: «Tiếp tục», «Nhắc lại», «Về menu»")
    assert render(Reply(text="**Đậm** và thường")) == ["Đậm và thường"]
    assert render(Reply(text="")) == []


async def test_a_document_becomes_an_expiring_download_link(tmp_path: Any, fake: FakeZalo) -> None:
    pdf = b"%PDF-1.7\n% a certificate\n"
    async with running(tmp_path / "bot.db", fake, webhook=True) as app, aiohttp.ClientSession() as http:
        await channel_of(app).send("zalo:u9", Reply(text="📄 Bản PDF để in:", document=pdf,
                                                    document_name="giay-chung-nhan.pdf"))
        [message] = fake.delivered("u9")
        text = str(message.body["text"])
        assert text.startswith("📄 Bản PDF để in:") and "Tải tệp về" in text
        url = text.rsplit(" ", 1)[-1]
        assert re.fullmatch(rf"http://127\.0\.0\.1:{app.settings.port}/media/[A-Za-z0-9_-]{{20,64}}\.pdf", url)
        async with http.get(url) as response:
            assert response.status == 200 and await response.read() == pdf
            assert response.headers["Content-Type"] == "application/pdf"
            assert response.headers["Content-Disposition"].startswith("attachment")
        async with http.get(url[:-4] + ".png") as response:
            assert response.status == 404


async def test_a_polled_update_is_kept_and_tried_again_while_the_database_is_busy(
        tmp_path: Any, fake: FakeZalo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Zalo will not send a fetched update again: the channel holds on to it until the engine can handle it."""
    monkeypatch.setattr(zalo_channel, "BUSY_PAUSE", 0.1)
    async with running(tmp_path / "bot.db", fake) as app:
        real = app.engine.handle
        refused: list[str] = []

        async def busy_twice(inbound: Inbound, *, wait_delivery: bool = True) -> bool:
            if len(refused) < 2:
                refused.append(inbound.key)
                raise Busy("database is locked")
            return await real(inbound, wait_delivery=wait_delivery)

        monkeypatch.setattr(app.engine, "handle", busy_twice)
        got = await Villager(app, fake).say("/start")
        assert len(refused) == 2 and refused[0] == refused[1]  # the same update, tried again
        assert "Cháu là Trợ lý số của xã Bạch Ngọc" in got[0]
