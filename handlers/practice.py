"""Practice inside a lesson step: a typed answer, a QR challenge (scan a code, type its word), a practice
payment (scan a VietQR in the bank app, read it, do not confirm, type the amount)."""

from __future__ import annotations

from bot.context import Context
from bot.media import qr, vietqr
from bot.media.qrcheck import format_dong
from bot.media.sample_screen import transfer_screen_png
from lessons.schema import PhotoTask, PracticePayment, QRChallenge, Step, TypedAnswer
from lessons.textmatch import fold, matches

PRACTICE_MESSAGE = "HOC THU CHUYEN KHOAN"


def expects_typing(step: Step) -> bool:
    """The person answers by sending something (text, or a photo for a photo task)."""
    return isinstance(step.practice, TypedAnswer | QRChallenge | PracticePayment | PhotoTask)


def prepare(ctx: Context, step: Step) -> bytes | None:
    """The picture the step needs, with whatever must be remembered to check the answer."""
    practice = step.practice
    if isinstance(practice, QRChallenge):
        word = qr.one_time_word()
        ctx.state["qr_word"] = word
        return qr.make_qr_png(word)
    if isinstance(practice, PracticePayment):
        account = ctx.community.practice_account
        if account is None:
            return transfer_screen_png(recipient=f"UBND {fold_upper(ctx.community.commune_name)} (mẫu)",
                                       amount_text=format_dong(practice.amount), message=PRACTICE_MESSAGE)
        bank_bin, number, _name = account
        return qr.make_qr_png(vietqr.build(bank_bin, number, amount=practice.amount, message=PRACTICE_MESSAGE))
    return None


def note(ctx: Context, step: Step) -> str:
    """A line added under the prompt, if the step's picture needs one."""
    if isinstance(step.practice, PracticePayment) and ctx.community.practice_account is not None:
        return ("⚠️ Đây là bài tập: mở ứng dụng ngân hàng, quét mã, đọc tên người nhận và số tiền, "
                "rồi bấm quay lại. KHÔNG bấm xác nhận chuyển tiền.")
    if isinstance(step.practice, PracticePayment):
        return "Hình dưới là màn hình mẫu. Đọc tên người nhận và số tiền trên hình."
    if isinstance(step.practice, PhotoTask):
        return "⚠️ Đừng chụp giấy tờ tùy thân, thẻ ngân hàng hay tin nhắn có mã OTP. Ảnh chỉ để tập, cháu không lưu."
    return ""


def accepted(ctx: Context, step: Step, typed: str, photo: bytes | None = None) -> bool:
    practice = step.practice
    if isinstance(practice, PhotoTask):
        return photo is not None
    if isinstance(practice, TypedAnswer):
        return practice.is_accepted(typed)
    if isinstance(practice, QRChallenge):
        word = ctx.state.get("qr_word")
        return isinstance(word, str) and matches(typed, word)
    if isinstance(practice, PracticePayment):
        return amount_matches(typed, practice.amount)
    return False


def amount_matches(typed: str, amount: int) -> bool:
    """"20000", "20.000", "20.000 đ", "20 nghìn", "20k" all mean 20.000 đ."""
    folded = fold(typed)
    for suffix in ("dong", "vnd", "d"):
        folded = folded.removesuffix(suffix)
    for word, factor in (("nghin", 1000), ("ngan", 1000), ("k", 1000), ("trieu", 1_000_000)):
        if folded.endswith(word) and folded[: -len(word)].isdigit():
            return int(folded[: -len(word)]) * factor == amount
    return folded.isdigit() and int(folded) == amount


def fold_upper(text: str) -> str:
    """"xã Bạch Ngọc" → "XA BACH NGOC", as banks print names."""
    return vietqr.ascii_text(text, 60).upper()
