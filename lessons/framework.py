"""Names from the national digital-skills frameworks that lessons are tagged with, and the milestones
communes count. Only names verified in the project's lesson fact sheet are used: the citizen annex of
Decision 757/QĐ-BKHCN is not verified, so its numbering is not invented here."""

from __future__ import annotations

from typing import Literal

SkillArea = Literal["thiet-bi", "tim-kiem", "du-lieu", "giao-tiep", "sang-tao", "an-toan", "giai-quyet", "ai"]

SKILL_AREAS: dict[str, str] = {
    # Công văn 3139/BTTTT-KTS&XHS (2024), the citizen framework: areas 0 and 1.
    "thiet-bi": "Sử dụng thiết bị và phần mềm trên thiết bị",
    "tim-kiem": "Kỹ năng tìm kiếm, khai thác thông tin trên môi trường Internet",
    # Thông tư 02/2025/TT-BGDĐT: the six domains.
    "du-lieu": "Khai thác dữ liệu và thông tin",
    "giao-tiep": "Giao tiếp và hợp tác trong môi trường số",
    "sang-tao": "Sáng tạo nội dung số",
    "an-toan": "An toàn",
    "giai-quyet": "Giải quyết vấn đề",
    "ai": "Ứng dụng trí tuệ nhân tạo",
}

Milestone = Literal["vneid_level2", "paid_bill", "public_service", "sold_online"]

# The question asked at the end of a lesson that teaches something communes report (written for "{bác}").
MILESTONES: dict[str, tuple[str, str]] = {
    "vneid_level2": ("{Bác} đã kích hoạt tài khoản VNeID mức 2 chưa ạ?", "Kích hoạt VNeID mức 2"),
    "paid_bill": ("{Bác} đã tự trả một hóa đơn (điện, nước, học phí) qua ứng dụng ngân hàng chưa ạ?",
                  "Tự trả hóa đơn qua ứng dụng"),
    "public_service": ("{Bác} đã tự làm một thủ tục trên Cổng Dịch vụ công chưa ạ?", "Làm thủ tục dịch vụ công"),
    "sold_online": ("{Bác} đã bán được hàng qua mạng chưa ạ?", "Bán hàng qua mạng"),
}
