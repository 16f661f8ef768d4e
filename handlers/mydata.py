"""The text of /dulieucuatoi: everything stored about the person, section by section (Law 91/2025 Art 4)."""

from __future__ import annotations

from bot.context import Context
from handlers.onboarding import PENDING
from handlers.timefmt import spoken
from handlers.voice import AGE_GROUPS, address
from lessons.framework import MILESTONES
from storage.models import ConsentRecord
from storage.personal_data import PersonalData

PURPOSE_NAMES = {"learning": "học bài", "guardian": "bố mẹ cho em học", "help": "hỏi tình nguyện viên",
                 "mentoring": "làm tình nguyện viên", "certificate": "giấy chứng nhận"}
REQUEST_NAMES = {"copy": "xem dữ liệu", "delete": "xóa dữ liệu", "withdraw": "rút đồng ý"}
HELP_STATUS = {"open": "đang chờ người nhận", "claimed": "đang được giúp", "resolved": "đã xong"}
MEETING_STATUS = {"proposed": "chờ trả lời", "confirmed": "đã hẹn", "declined": "đã đổi", "done": "đã gặp"}


def consents(ctx: Context, rows: list[ConsentRecord]) -> str:
    return "\n".join(
        f"• {ctx.local(c.at):%H:%M %d/%m/%Y}: {PURPOSE_NAMES.get(c.purpose, c.purpose)} – "
        f"{'đồng ý' if c.granted else 'không đồng ý'} (bản {c.text_version})" for c in rows) or "• (chưa có)"


async def requests(ctx: Context) -> str:
    rows = await ctx.repos.data_requests.of(ctx.ref_key)
    listed = ", ".join(f"{REQUEST_NAMES.get(r.kind, r.kind)} {ctx.local(r.requested_at):%d/%m/%Y}" for r in rows)
    you = address(ctx)
    return (f"Sổ ghi yêu cầu về dữ liệu (sổ không ghi tài khoản của {you.you}, chỉ một mã không đọc ngược được): "
            f"{listed}." if listed else "")


async def describe(ctx: Context) -> str:
    """Everything stored about the person (call after logging this request, so it is listed too)."""
    you = address(ctx)
    agreed = consents(ctx, await ctx.repos.consent.history(ctx.ref))
    logged = await requests(ctx)
    person = ctx.person
    if person is None:
        return (f"📄 Dữ liệu {you.me} đang lưu về {you.you}: chỉ có lần trả lời về việc đồng ý.\n{agreed}"
                + (f"\n{logged}" if logged else ""))
    data = await ctx.repos.personal_data.of(person.id)
    pending = ctx.state.get(PENDING)
    hamlets = {}
    for hamlet_id in {person.hamlet_id, pending if isinstance(pending, int) else None, *data.mentor_hamlets} - {None}:
        hamlet = await ctx.repos.places.hamlet(hamlet_id) if hamlet_id is not None else None
        if hamlet is not None:
            hamlets[hamlet.id] = hamlet.name
    age = AGE_GROUPS.get(person.age_group or "", "(chưa chọn)")
    if person.age_group == "u16" and person.guardian_confirmed:
        age += ", bố mẹ đã đồng ý"
    profile = [f"• Xóm: {hamlets.get(person.hamlet_id or 0, '(chưa chọn)')}", f"• Nhóm tuổi: {age}",
               f"• Bắt đầu học: {ctx.local(person.created_at):%d/%m/%Y}; "
               f"lần gần nhất: {ctx.local(person.last_seen_at):%d/%m/%Y}"]
    if isinstance(pending, int) and pending in hamlets:
        profile.append(f"• Xóm đang chờ bố mẹ đồng ý (chưa vào hồ sơ): {hamlets[pending]}")
    if person.announcements_off:
        profile.append("• Đã tắt thông báo của xã (/tatthongbao)")
    sections = [f"📄 Dữ liệu {you.me} đang lưu về {you.you}:\n" + "\n".join(profile),
                _learning(ctx, data), "Lời đồng ý:\n" + agreed, _help(ctx, data), _commune(ctx, data),
                _roles(ctx, data, hamlets), logged, f"Muốn xóa hết, {you.you} gõ /xoadulieu."]
    return "\n\n".join(section for section in sections if section)


def _learning(ctx: Context, data: PersonalData) -> str:
    lines = []
    done, going = [], []
    for row in data.lessons:
        lesson = ctx.catalog.lesson(row.lesson_id)
        title = lesson.title if lesson is not None else row.lesson_id
        if row.completed_at is not None:
            score = f", điểm {row.best_score}, {row.attempts} lần làm bài kiểm tra" if row.attempts else ""
            helped = ", học cùng tình nguyện viên" if row.assisted else ""
            done.append(f"{title} ({ctx.local(row.completed_at):%d/%m/%Y}{score}{helped})")
        else:
            index = lesson.step_index(row.step_id or "") if lesson is not None else None
            where = ("bài kiểm tra" if row.step_id == "quiz" else
                     f"bước {index + 1}/{len(lesson.steps)}" if lesson is not None and index is not None else "")
            going.append(f"{title}{f' ({where})' if where else ''}")
    lines.append(f"• Bài đã xong: {'; '.join(done) if done else '(chưa có)'}")
    if going:
        lines.append(f"• Bài đang học: {'; '.join(going)}")
    recent = [str(answer) for answer in ctx.state.get("recent") or []]
    if recent:
        lines.append(f"• Câu trả lời gần đây: {', '.join(f'«{answer}»' for answer in recent)}")
    for milestone in data.milestones:
        name = MILESTONES[milestone.milestone][1] if milestone.milestone in MILESTONES else milestone.milestone
        lines.append(f"• {name}: {'rồi' if milestone.said_yes else 'chưa'} ({ctx.local(milestone.at):%d/%m/%Y})")
    if data.events:
        lines.append(f"• Nhật ký học: {data.events} dòng (bước đã xem, bài kiểm tra, câu trả lời về mốc)")
    return "Việc học:\n" + "\n".join(lines)


def _help(ctx: Context, data: PersonalData) -> str:
    lines = []
    for case in data.help_requests:
        said = f"«{case.question[:60]}»" if case.question else ("nhờ gọi/đến nhà" if case.kind == "visit" else
                                                               "nội dung đã xóa")
        photo = ", có ảnh chụp màn hình" if case.context.get("photo") else ""
        stars = f", {case.rating} sao" if case.rating else ""
        phone = ", đã gửi số điện thoại cho người giúp" if case.phone_shared else ""
        lines.append(f"• Yêu cầu số {case.id} ({ctx.local(case.created_at):%d/%m/%Y}, "
                     f"{HELP_STATUS.get(case.status, case.status)}{stars}{photo}{phone}): {said}")
    for meeting in data.meetings:
        notes = f"; ghi chú: {meeting.notes[:100]}" if meeting.notes else ""
        lines.append(f"• Lịch hẹn 1-1: {spoken(meeting.at, ctx.community.timezone)}, tại {meeting.place} "
                     f"({MEETING_STATUS.get(meeting.status, meeting.status)}){notes}")
    return "Hỏi tình nguyện viên:\n" + "\n".join(lines) if lines else ""


def _commune(ctx: Context, data: PersonalData) -> str:
    lines = [f"• Đăng ký tập huấn «{t.title}»: {spoken(t.at, ctx.community.timezone)}, tại {t.place}"
             for t in data.trainings]
    for contest in data.contests:
        result = (f"đúng {contest.score}/{contest.answered} câu, {contest.seconds} giây"
                  if contest.seconds is not None else f"đang thi, đã trả lời {contest.answered} câu")
        lines.append(f"• Bài thi «{contest.title}» ({ctx.local(contest.started_at):%d/%m/%Y}): {result}")
    lines += [f"• Giấy chứng nhận «{c.track_title}»: tên in {c.name}, cấp {c.issued_on:%d/%m/%Y}"
              for c in data.certificates]
    return "Hoạt động của xã:\n" + "\n".join(lines) if lines else ""


def _roles(ctx: Context, data: PersonalData, hamlets: dict[int, str]) -> str:
    person = ctx.person
    assert person is not None
    lines = []
    if person.is_mentor:
        served = ", ".join(hamlets.get(h, "?") for h in data.mentor_hamlets) or "(chưa chọn)"
        lines.append(f"• Tình nguyện viên: tên {person.display_name or '(chưa đặt)'}; xóm {served}"
                     f"{'; đang tạm nghỉ' if person.mentor_paused else ''}")
    if person.is_official:
        lines.append(f"• Cán bộ xã: tên {person.display_name or '(chưa đặt)'}")
    if data.cases_helped:
        lines.append(f"• Đã nhận giúp {data.cases_helped} yêu cầu hỗ trợ")
    return "Vai trò:\n" + "\n".join(lines) if lines else ""
