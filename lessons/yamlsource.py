"""YAML with line numbers: load a file and remember where each value stands, for `file:line:` errors."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]
PLACEHOLDERS = {"{bác}", "{Bác}", "{cháu}", "{Cháu}"}  # how the learner and the bot are addressed
_PLACEHOLDER = re.compile(r"\{[^{}\s]{1,12}\}")


@dataclass
class Located:
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, message) found while reading

    def line_of(self, loc: tuple[str | int, ...]) -> int:
        """The line of the deepest known node along a pydantic error location (unknown parts are skipped)."""
        best: Path = ()
        current: Path = ()
        for part in loc:
            candidate = (*current, part)
            if candidate in self.lines:
                current = best = candidate
        return self.lines.get(best, 1)


# libyaml's parser when PyYAML was built with it: about ten times faster, which is most of loading the lessons at
# start-up. Its nodes carry the same line marks. It words its errors differently, so a document it rejects is parsed
# again by the pure-Python loader, and errors read exactly as they always have.
_FAST_LOADER: type[yaml.CSafeLoader] | None = getattr(yaml, "CSafeLoader", None)


def load(text: str) -> Located:
    """Parse one YAML document; raises yaml.YAMLError (with its own mark) when it is not YAML."""
    if _FAST_LOADER is not None:
        try:
            return _load(text, _FAST_LOADER)
        except yaml.YAMLError:
            pass
    return _load(text, yaml.SafeLoader)


def _load(text: str, loader_class: type[yaml.SafeLoader | yaml.CSafeLoader]) -> Located:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        located = Located(data=None)
        if node is None:
            return located
        _walk(node, (), located)
        located.data = loader.construct_document(node)
        return located
    finally:
        loader.dispose()


def _walk(node: yaml.Node, path: Path, located: Located) -> None:
    located.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                located.problems.append((key_node.start_mark.line + 1, f"duplicate key {key!r}"))
            seen.add(key)
            _walk(value_node, (*path, key), located)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), located)
    elif isinstance(node, yaml.ScalarNode) and isinstance(node.value, str):
        if node.value != unicodedata.normalize("NFC", node.value):
            located.problems.append((node.start_mark.line + 1, "text is not in Unicode NFC form"))
        for placeholder in _PLACEHOLDER.findall(node.value):
            if placeholder not in PLACEHOLDERS:
                located.problems.append((node.start_mark.line + 1, f"unknown placeholder {placeholder} "
                                         f"(use {', '.join(sorted(PLACEHOLDERS))})"))
