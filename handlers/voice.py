"""How the bot addresses a person (VOICE.md): "bác/cháu" to people 60+, "bạn/mình" to others,
"em/mình" under 16; the same button labels everywhere."""

from __future__ import annotations

from dataclasses import dataclass

from bot.context import Context
from bot.messages import Choice

AGE_GROUPS: dict[str, str] = {"u16": "Dưới 16", "16-29": "16–29", "30-59": "30–59", "60+": "Từ 60 tuổi"}

# The same action always has the same label (≤ 20 characters).
CONTINUE = "▶ Tiếp tục"
REPEAT = "🔁 Nhắc lại"
MENU = "🏠 Về menu"
LEARN = "📚 Học bài"
RESUME = "▶ Học tiếp"
PROGRESS = "📊 Tiến độ của tôi"
MORE = "➡ Xem thêm"
STUCK = "❓ Chưa hiểu"
ASK_HELP = "🙋 Hỏi người hỗ trợ"
CHECK_QR = "🔍 Kiểm tra mã QR"


@dataclass(frozen=True)
class Address:
    you: str  # how the bot calls the person
    me: str  # how the bot calls itself

    @property
    def You(self) -> str:
        return self.you[:1].upper() + self.you[1:]

    @property
    def Me(self) -> str:
        return self.me[:1].upper() + self.me[1:]

    def adapt(self, text: str) -> str:
        """Text written with the placeholders {bác}, {Bác} (the learner) and {cháu}, {Cháu} (the bot), said to
        this person: "bác/cháu" to people 60+, "bạn/mình" to others, "em/mình" under 16. Only placeholders
        change, so "bác sĩ" stays a doctor."""
        return (text.replace("{bác}", self.you).replace("{Bác}", self.You)
                .replace("{cháu}", self.me).replace("{Cháu}", self.Me))


ELDER = Address("bác", "cháu")
ADULT = Address("bạn", "mình")
CHILD = Address("em", "mình")


def address(ctx: Context) -> Address:
    group = ctx.person.age_group if ctx.person is not None else None
    if group in ("16-29", "30-59"):
        return ADULT
    if group == "u16":
        return CHILD
    return ELDER  # 60+, and anyone not yet asked: better too respectful than too familiar


def menu_button() -> Choice:
    return Choice(label=MENU, payload="menu")


def paged(items: list[Choice], page: int, more_payload: str, *, with_menu: bool = True) -> list[list[Choice]]:
    """At most four choices at once: up to three items and the menu, or two items, "Xem thêm" and the menu."""
    if len(items) <= 3:
        rows = [[item] for item in items]
    else:
        per_page = 2
        pages = (len(items) + per_page - 1) // per_page
        page %= pages
        rows = [[item] for item in items[page * per_page:(page + 1) * per_page]]
        rows.append([Choice(label=MORE, payload=f"{more_payload}:{(page + 1) % pages}")])
    if with_menu:
        rows.append([menu_button()])
    return rows
