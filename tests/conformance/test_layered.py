"""A PIXIT or PICS that names a ``base`` (conformance/layered.py): what is laid over what, and what is
refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.layered import LayeredError, load_layered
from conformance.pixit import PixitError, load_pixit
from conformance.traceability import load_pics

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_tables_are_laid_over_key_by_key_and_arrays_entry_by_entry(tmp_path: Path) -> None:
    _write(tmp_path / "lab.toml", """
[sut]
start = ["one"]
ready = 30
[[block]]
name = "block1"
registration = 1
option = "A"
[[block]]
name = "block2"
registration = 1
[[user]]
username = "alice"
password = "a"
""")
    child = _write(tmp_path / "option2.toml", """
base = "lab.toml"
[sut]
start = ["two"]
[[block]]
name = "block1"
registration = 2
[[user]]
username = "carol"
password = "c"
""")
    merged = load_layered(child)
    assert merged["sut"] == {"start": ["two"], "ready": 30}
    assert merged["block"] == [
        {"name": "block1", "registration": 2, "option": "A"},
        {"name": "block2", "registration": 1},
    ]
    assert [u["username"] for u in merged["user"]] == ["alice", "carol"]
    assert "base" not in merged
    assert load_layered(tmp_path / "lab.toml")["block"][0]["registration"] == 1, "the base is untouched"


def test_a_base_may_name_a_base_of_its_own(tmp_path: Path) -> None:
    _write(tmp_path / "a.toml", "[timing]\nmin_expires = 60\ntimer_c = 181\n")
    _write(tmp_path / "b.toml", 'base = "a.toml"\n[timing]\ntimer_c = 200\n')
    c = _write(tmp_path / "c.toml", 'base = "b.toml"\n[timing]\nmin_expires = 30\n')
    assert load_layered(c)["timing"] == {"min_expires": 30, "timer_c": 200}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"x.toml": 'base = "y.toml"\n', "y.toml": 'base = "x.toml"\n'}, "cycle: x.toml -> y.toml -> x.toml"),
        ({"x.toml": 'base = "missing.toml"\n'}, "missing.toml: no such file"),
        ({"x.toml": 'base = "../elsewhere.toml"\n'}, "a file name of the same directory"),
        ({"x.toml": "base = 3\n"}, "a file name of the same directory"),
        ({"x.toml": 'base = "y.toml"\n', "y.toml": "[sut\n"}, "y.toml: not valid TOML"),
        ({"x.toml": 'base = "y.toml"\n[[block]]\nregistration = 2\n', "y.toml": '[[block]]\nname = "b"\n'},
         "[[block]] #1: laid over a base, an entry needs its 'name'"),
    ],
)  # fmt: skip
def test_what_is_refused_names_the_file(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        _write(tmp_path / name, text)
    with pytest.raises(LayeredError, match=re.escape(message)):
        load_layered(tmp_path / "x.toml")


def test_the_pixit_loader_reports_a_bad_base_as_a_pixit_error(tmp_path: Path) -> None:
    pixit = _write(tmp_path / "pixit.toml", 'base = "nowhere.toml"\n')
    with pytest.raises(PixitError, match="nowhere.toml: no such file"):
        load_pixit(pixit)


def test_a_pics_laid_over_another_changes_only_the_answers_it_gives(tmp_path: Path) -> None:
    features = ROOT / "features" / "pics.toml"
    (tmp_path / "pics.toml").write_bytes(features.read_bytes())
    child = _write(tmp_path / "mine.toml", 'base = "pics.toml"\n[[item]]\nid = "PICS_OPT_B"\nanswer = "no"\n')
    suite = {item.id: item for item in load_pics(features)}
    mine = {item.id: item for item in load_pics(child)}
    assert mine.keys() == suite.keys()
    assert mine["PICS_OPT_B"].answer == "no" and mine["PICS_OPT_B"].question == suite["PICS_OPT_B"].question
    changed = {i for i in mine if mine[i] != suite[i]}
    assert changed <= {"PICS_OPT_B"}


def test_an_empty_array_empties_the_bases(tmp_path: Path) -> None:
    _write(tmp_path / "a.toml", '[[user]]\nusername = "alice"\n')
    b = _write(tmp_path / "b.toml", 'base = "a.toml"\nuser = []\n')
    assert load_layered(b)["user"] == []
