"""Load, validate and index the lessons under content/<track>/*.yaml.

`check(root)` reports every problem as `file:line: message`; `load(root)` returns the catalog or raises.
"""

from __future__ import annotations

import pathlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TypeVar

import yaml
from pydantic import ValidationError

from lessons import yamlsource
from lessons.schema import Lesson, Track

CONTENT = pathlib.Path(__file__).with_name("content")
TRACK_FILE = "track.yaml"


@dataclass(frozen=True)
class LessonError:
    file: pathlib.Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class CatalogError(Exception):
    def __init__(self, errors: list[LessonError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


@dataclass
class Catalog:
    tracks: list[Track] = field(default_factory=list)
    lessons: dict[str, Lesson] = field(default_factory=dict)
    by_track: dict[str, list[Lesson]] = field(default_factory=dict)

    def lesson(self, lesson_id: str) -> Lesson | None:
        return self.lessons.get(lesson_id)

    def track(self, track_id: str) -> Track | None:
        return next((t for t in self.tracks if t.id == track_id), None)

    def in_order(self) -> list[Lesson]:
        return [lesson for track in self.tracks for lesson in self.by_track.get(track.id, [])]


def load(root: pathlib.Path = CONTENT) -> Catalog:
    catalog, errors = _read(root)
    if errors:
        raise CatalogError(errors)
    return catalog


def check(root: pathlib.Path = CONTENT) -> list[LessonError]:
    return _read(root)[1]


def _read(root: pathlib.Path) -> tuple[Catalog, list[LessonError]]:
    errors: list[LessonError] = []
    if not root.is_dir():
        return Catalog(), [LessonError(root, 1, "no such folder")]
    tracks: dict[str, Track] = {}
    lessons: dict[str, Lesson] = {}
    where: dict[str, tuple[pathlib.Path, int]] = {}
    by_track: dict[str, list[Lesson]] = defaultdict(list)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    for folder in folders:
        track_path = folder / TRACK_FILE
        if not track_path.is_file():
            errors.append(LessonError(folder, 1, f"track folder without {TRACK_FILE}"))
            continue
        track = _parse(track_path, Track, errors)
        if track is not None:
            if track.id != folder.name:
                errors.append(LessonError(track_path, 1, f"track id {track.id!r} differs from its folder name"))
            tracks[track.id] = track
        for path in sorted(folder.glob("*.yaml")):
            if path.name == TRACK_FILE:
                continue
            lesson = _parse(path, Lesson, errors, track=folder.name)
            if lesson is None:
                continue
            if lesson.id in where:
                other, _ = where[lesson.id]
                errors.append(LessonError(path, _id_line(path), f"duplicate lesson id {lesson.id!r} (also in {other})"))
                continue
            where[lesson.id] = (path, 1)
            lessons[lesson.id] = lesson
            by_track[folder.name].append(lesson)
    ordered = sorted(tracks.values(), key=lambda t: (t.order, t.id))
    catalog = Catalog(tracks=ordered, lessons=lessons,
                      by_track={t.id: sorted(by_track[t.id], key=lambda le: (le.order, le.id)) for t in ordered})
    return catalog, errors


def _id_line(path: pathlib.Path) -> int:
    located = yamlsource.load(path.read_text(encoding="utf-8"))
    return located.lines.get(("id",), 1)


M = TypeVar("M", Track, Lesson)


def _parse(path: pathlib.Path, model: type[M], errors: list[LessonError], track: str = "") -> M | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        errors.append(LessonError(path, 1, f"not UTF-8 text ({exc.reason})"))
        return None
    try:
        located = yamlsource.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        errors.append(LessonError(path, (mark.line + 1) if mark else 1, f"not valid YAML: {problem}"))
        return None
    before = len(errors)
    errors.extend(LessonError(path, line, message) for line, message in located.problems)
    if not isinstance(located.data, dict):
        errors.append(LessonError(path, 1, "expected a mapping of fields"))
        return None
    data = dict(located.data)
    if model is Lesson:
        if "track" in data:
            errors.append(LessonError(path, located.line_of(("track",)), "track comes from the folder; remove it"))
            return None
        data["track"] = track
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            field_name = ".".join(str(part) for part in loc) or "file"
            errors.append(LessonError(path, located.line_of(loc), f"{field_name}: {error['msg']}"))
        return None
    if isinstance(parsed, Lesson):
        _lesson_rules(path, parsed, located, errors)
    return parsed if len(errors) == before else None


def _lesson_rules(path: pathlib.Path, lesson: Lesson, located: yamlsource.Located,
                  errors: list[LessonError]) -> None:
    if lesson.id != path.stem:
        errors.append(LessonError(path, located.line_of(("id",)),
                                  f"lesson id {lesson.id!r} differs from the file name"))
    seen: set[str] = set()
    for index, step in enumerate(lesson.steps):
        if step.id in seen:
            errors.append(LessonError(path, located.line_of(("steps", index, "id")), f"duplicate step id {step.id!r}"))
        seen.add(step.id)
        if step.image and not (path.parent / step.image).is_file():
            errors.append(LessonError(path, located.line_of(("steps", index, "image")),
                                      f"image {step.image!r} not found next to the lesson"))
    if "quiz" in seen:
        errors.append(LessonError(path, located.line_of(("steps",)), "step id 'quiz' is reserved"))
    asked: set[str] = set()
    for index, question in enumerate(lesson.quiz.questions):
        if question.id in asked:
            errors.append(LessonError(path, located.line_of(("quiz", "questions", index, "id")),
                                      f"duplicate question id {question.id!r}"))
        asked.add(question.id)
