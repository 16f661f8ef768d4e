"""Onboarding: greeting, consent, hamlet, age group, guardian — with no platform and no network."""

from __future__ import annotations

import unicodedata

from sqlalchemy import func, select

from bot.app import App
from bot.messages import InboundKind
from storage.models import AnonymousCount, ConsentRecord, Hamlet, Person
from tests.harness import Chat, Recorder


async def count(app: App, model: type[Person] | type[ConsentRecord]) -> int:
    async with app.engine._sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_start_greets_and_asks_consent_before_storing_anything(chat: Chat, app: tuple[App, Recorder]) -> None:
    await chat.say("/start")
    assert "Trợ lý số của xã Bạch Ngọc" in chat.text
    assert "Bác có đồng ý không" in chat.text
    assert chat.labels() == ["✅ Đồng ý", "Không đồng ý"]
    assert await count(app[0], Person) == 0
    assert await count(app[0], ConsentRecord) == 0
    for reply in chat.last:
        assert reply.text == unicodedata.normalize("NFC", reply.text)


async def test_full_onboarding_records_consent_hamlet_and_age(chat: Chat, app: tuple[App, Recorder]) -> None:
    await chat.say("/start")
    await chat.press("✅ Đồng ý")
    assert "xóm nào" in chat.text and "Xóm 5" in chat.text
    await chat.press("➡ Xem thêm")
    assert "Xóm 3" in chat.labels()
    await chat.say("xom 4")  # typed name, no diacritics
    assert chat.labels() == ["Dưới 16", "16–29", "30–59", "Từ 60 tuổi"]
    await chat.press("Từ 60 tuổi")
    assert "Menu chính" in chat.text
    assert "📚 Học bài" in chat.labels()
    async with app[0].engine._sessions() as session:
        person = (await session.scalars(select(Person))).one()
        consent = (await session.scalars(select(ConsentRecord))).one()
    assert person.ref == "test:1" and person.age_group == "60+"
    assert person.hamlet_id is not None
    assert consent.granted and consent.purpose == "learning" and consent.text_version == "v2"
    assert len(consent.text_hash) == 64 and consent.channel == "test"


async def test_typed_consent_and_hamlet_number(chat: Chat, app: tuple[App, Recorder]) -> None:
    await chat.say("/start")
    await chat.say("dong y")
    assert "xóm nào" in chat.text
    await chat.say("9")  # there are five hamlets
    assert "chưa tìm thấy" in chat.text
    await chat.say("3")
    assert "nhóm tuổi" in chat.text
    await chat.say("2")  # the second age button
    assert "Menu chính" in chat.text
    assert "bạn" in chat.text.lower()  # 16–29 is called "bạn", not "bác"


async def test_declining_stores_only_the_refusal(chat: Chat, app: tuple[App, Recorder]) -> None:
    await chat.say("/start")
    await chat.press("Không đồng ý")
    assert "không lưu thông tin gì" in chat.text
    assert await count(app[0], Person) == 0
    async with app[0].engine._sessions() as session:
        consent = (await session.scalars(select(ConsentRecord))).one()
    assert consent.granted is False
    # Lesson buttons do nothing for someone who has not consented: they are asked again.
    await chat.choose("lesson:bai-thu")
    assert "đồng ý" in chat.text.lower()
    assert await count(app[0], Person) == 0
    # They can change their mind.
    await chat.say("/start")
    await chat.press("✅ Đồng ý")
    assert await count(app[0], Person) == 1


async def person_row(app: App) -> Person:
    async with app.engine._sessions() as session:
        return (await session.scalars(select(Person))).one()


async def test_under_16_nothing_is_stored_until_a_parent_confirms(chat: Chat, app: tuple[App, Recorder]) -> None:
    await chat.say("/start")
    await chat.press("✅ Đồng ý")
    await chat.press("Xóm 1")
    await chat.press("Dưới 16")
    assert "Em dưới 16 tuổi" in chat.last[0].text and "Kính gửi bố mẹ" in chat.last[1].text
    assert chat.labels() == ["Bố mẹ đã đồng ý", "Bố mẹ không đồng ý", "Để sau"]
    person = await person_row(app[0])
    assert (person.hamlet_id, person.age_group, person.guardian_confirmed) == (None, None, False)
    await chat.say("/dulieucuatoi")
    assert "Xóm: (chưa chọn)" in chat.text and "Nhóm tuổi: (chưa chọn)" in chat.text
    assert "Xóm đang chờ bố mẹ đồng ý (chưa vào hồ sơ): Xóm 1" in chat.text
    # Lessons, help requests and QR checks wait for the parent.
    for payload in ("learn", "help", "qrcheck", "visit"):
        await chat.choose(payload)
        assert "Kính gửi bố mẹ" in chat.text, payload
    await chat.press("Để sau")
    assert "em gõ /start" in chat.text
    person = await person_row(app[0])
    assert (person.hamlet_id, person.age_group) == (None, None) and "pending_hamlet" not in person.state
    # Back later with a parent: asked again from the hamlet, never a dead end.
    await chat.say("/start")
    assert "xóm nào" in chat.text
    await chat.press("Xóm 1")
    await chat.press("Dưới 16")
    await chat.press("Bố mẹ đã đồng ý")
    assert "Cảm ơn bố mẹ em" in chat.text and "Em muốn làm gì" in chat.text
    person = await person_row(app[0])
    assert (person.age_group, person.guardian_confirmed) == ("u16", True) and person.hamlet_id is not None
    async with app[0].engine._sessions() as session:
        purposes = [(c.purpose, c.granted) for c in await session.scalars(select(ConsentRecord)
                                                                          .order_by(ConsentRecord.id))]
    assert purposes == [("learning", True), ("guardian", True)]
    await chat.choose("help")
    assert "Đừng gửi mã OTP" in chat.text  # now the help consent is asked
    await chat.choose("age:60+")  # an old age button changes nothing
    assert "tin nhắn cũ" in chat.text and (await person_row(app[0])).age_group == "u16"


async def test_a_parent_who_refuses_leaves_nothing(chat: Chat, app: tuple[App, Recorder]) -> None:
    await chat.say("/start")
    await chat.press("✅ Đồng ý")
    await chat.press("Xóm 2")
    await chat.press("Dưới 16")
    await chat.press("Bố mẹ không đồng ý")
    assert "đã xóa thông tin của em" in chat.text
    assert await count(app[0], Person) == 0 and await count(app[0], ConsentRecord) == 0
    async with app[0].engine._sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AnonymousCount)) == 0  # never counted


async def test_a_poster_link_keeps_a_childs_hamlet_out_until_the_parent_agrees(chat: Chat,
                                                                              app: tuple[App, Recorder]) -> None:
    await chat.say("/start xom-3")
    await chat.press("✅ Đồng ý")
    assert "Xóm 3" in chat.text and chat.labels() == ["Dưới 16", "16–29", "30–59", "Từ 60 tuổi"]
    assert (await person_row(app[0])).hamlet_id is not None  # the age is not known yet
    await chat.press("Dưới 16")
    assert (await person_row(app[0])).hamlet_id is None  # a child: out of the profile until the parent agrees
    await chat.say("xin chào")  # typed text at the parent's question: asked again
    assert "Kính gửi bố mẹ" in chat.text
    await chat.press("Bố mẹ đã đồng ý")
    assert "Menu chính" in chat.text
    async with app[0].engine._sessions() as session:
        person = (await session.scalars(select(Person))).one()
        hamlet = await session.get(Hamlet, person.hamlet_id)
    assert hamlet is not None and hamlet.name == "Xóm 3"


async def test_an_adult_from_a_poster_is_saved_at_once(chat: Chat, app: tuple[App, Recorder]) -> None:
    await chat.say("/start xom-2")
    await chat.press("✅ Đồng ý")
    await chat.press("30–59")
    assert "Menu chính" in chat.text
    person = await person_row(app[0])
    assert person.age_group == "30-59" and person.hamlet_id is not None and "pending_hamlet" not in person.state


async def test_unexpected_inputs_get_a_kind_answer_and_the_menu(chat: Chat) -> None:
    await chat.onboard()
    for kind in (InboundKind.OTHER, InboundKind.PHOTO):
        await chat.send_kind(kind)
        assert chat.last and "📚 Học bài" in chat.labels()
    await chat.say("xin chào, cái này là gì vậy")
    assert "chưa hiểu ý bác" in chat.text
    assert "📚 Học bài" in chat.labels()
    await chat.choose("does-not-exist:1:2")
    assert chat.last and "📚 Học bài" in chat.labels()
    await chat.say("/lenhkhongco")
    assert chat.last and "📚 Học bài" in chat.labels()
    await chat.say("MENU")
    assert "Menu chính" in chat.text
