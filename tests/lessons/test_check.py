"""`hocvuso lessons check`: each kind of error reported as file:line: message, non-zero exit."""

from __future__ import annotations

import pathlib
import shutil

import pytest

from bot.cli import main
from lessons import catalog

GOOD = pathlib.Path(__file__).resolve().parents[1] / "data" / "lessons"


@pytest.fixture
def content(tmp_path: pathlib.Path) -> pathlib.Path:
    root = tmp_path / "content"
    shutil.copytree(GOOD, root)
    return root


def edit(path: pathlib.Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: pathlib.Path, needle: str) -> int:
    """The line of the last occurrence (a duplicate is blamed where it repeats)."""
    found = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line]
    assert found, needle
    return found[-1]


def run_check(root: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["lessons", "check", str(root)])
    return code, capsys.readouterr().out.splitlines()


def test_the_shipped_lessons_and_the_test_lessons_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lessons", "check"]) == 0
    assert "ok: " in capsys.readouterr().out
    assert catalog.check(GOOD) == []


CASES = [
    # (what, old text, new text, the line to blame contains, message contains)
    ("not NFC", "{Bác} mở điện thoại.", "{Bác} mơ\u0309 điện thoại.", "mơ\u0309 điện", "NFC"),
    ("duplicate step id", "  - id: hai", "  - id: mot", "  - id: mot\n", "duplicate step id 'mot'"),
    ("answer not an option", 'answer: ".gov.vn"', 'answer: ".org"', 'answer: ".org"', "not among the options"),
    ("step too long", 'text: "{Bác} nhìn số tiền trên màn hình."', "text: " + "Dài quá. " * 80, "Dài quá.",
     "at most 600 characters"),
    ("missing field", "minutes: 3\n", "", "id: bai-thu", "minutes: Field required"),
    ("unknown field", "minutes: 3\n", "minutes: 3\ncolour: red\n", "colour: red", "colour: Extra inputs"),
    ("duplicate key", "minutes: 3\n", "minutes: 3\nminutes: 4\n", "minutes: 4", "duplicate key 'minutes'"),
    ("bad YAML", "minutes: 3\n", "minutes: 3: 4\n", "minutes: 3: 4", "not valid YAML"),
    ("bad practice", "type: done", "type: dance", "type: dance", "practice"),
    ("unknown placeholder", "{Bác} mở điện thoại.", "{Anh} mở điện thoại.", "{Anh} mở", "unknown placeholder {Anh}"),
    ("pass mark too high", "pass_mark: 2", "pass_mark: 9", "pass_mark: 9", "more than the 3 questions"),
    ("option too long", '[".com", ".gov.vn", ".net"]', '[".com", ".gov.vn", "một lựa chọn quá dài để làm nút"]',
     "một lựa chọn quá dài", "at most 20 characters"),
]


@pytest.mark.parametrize(("what", "old", "new", "blame", "message"), CASES, ids=[c[0] for c in CASES])
def test_each_error_names_the_file_and_line(content: pathlib.Path, capsys: pytest.CaptureFixture[str], what: str,
                                            old: str, new: str, blame: str, message: str) -> None:
    path = content / "thu" / "bai-thu.yaml"
    edit(path, old, new)
    code, lines = run_check(content, capsys)
    assert code == 1
    expected = f"{path}:{line_of(path, blame.rstrip(chr(10)))}:"
    assert any(line.startswith(expected) and message in line for line in lines), (expected, message, lines)


def test_duplicate_lesson_ids_across_files(content: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = content / "thu" / "bai-thu-2.yaml"
    shutil.copy(content / "thu" / "bai-thu.yaml", other)
    code, lines = run_check(content, capsys)
    assert code == 1
    assert any(line.startswith(f"{other}:1:") and "differs from the file name" in line for line in lines)
    third = content / "khac"
    third.mkdir()
    (third / "track.yaml").write_text("id: khac\ntitle: Khác\norder: 2\n", encoding="utf-8")
    other.rename(third / "bai-thu.yaml")
    code, lines = run_check(content, capsys)
    assert code == 1
    assert any(line.startswith(f"{content / 'thu' / 'bai-thu.yaml'}:1:") and "duplicate lesson id 'bai-thu'" in line
               for line in lines), lines


def test_track_folder_without_track_file(content: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (content / "thu" / "track.yaml").unlink()
    code, lines = run_check(content, capsys)
    assert code == 1 and any("without track.yaml" in line for line in lines)


def test_loading_refuses_a_broken_catalog(content: pathlib.Path) -> None:
    edit(content / "thu" / "bai-thu.yaml", 'answer: "Không"', 'answer: "Không biết"')
    with pytest.raises(catalog.CatalogError) as raised:
        catalog.load(content)
    assert "bai-thu.yaml:" in str(raised.value)
