"""The fast (libyaml) and the pure-Python loader read lessons the same way, and errors read as before."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from lessons import catalog, yamlsource

FILES = sorted(catalog.CONTENT.rglob("*.yaml"))
needs_libyaml = pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml")


@needs_libyaml
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(catalog.CONTENT)))
def test_both_loaders_give_the_same_data_lines_and_problems(path: pathlib.Path) -> None:
    text = path.read_text(encoding="utf-8")
    fast, python = yamlsource._load(text, yaml.CSafeLoader), yamlsource._load(text, yaml.SafeLoader)
    assert (fast.data, fast.lines, fast.problems) == (python.data, python.lines, python.problems)


@needs_libyaml
def test_duplicate_keys_and_odd_text_are_found_on_the_same_lines() -> None:
    text = 'id: a\ntitle: "x"\nid: b\nsteps:\n  - text: "{ban} ok"\n  - text: "Cafe\u0301"\n'
    fast, python = yamlsource._load(text, yaml.CSafeLoader), yamlsource._load(text, yaml.SafeLoader)
    assert fast.problems == python.problems and len(fast.problems) == 3


@pytest.mark.parametrize("text", ["a: [1, 2\n", "a: b: c\n", "a:\n\t- b\n", "- a\nb: c\n", 'a: "unclosed\n'])
def test_yaml_errors_are_the_pure_python_loaders(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as expected:
        yamlsource._load(text, yaml.SafeLoader)
    with pytest.raises(yaml.YAMLError) as got:
        yamlsource.load(text)
    assert str(got.value) == str(expected.value)
