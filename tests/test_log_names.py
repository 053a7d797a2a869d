"""The one set of file-name rules of the log drop (``shutter_assets.lib.log_names``)."""

from __future__ import annotations

import pytest

from shutter_assets.lib.log_names import (
    UnsafePathError,
    check_drop_path,
    is_hidden,
    is_safe_path,
    is_temporary,
    machine_from_path,
    path_problem,
    readable,
)

GOOD = [
    "CU-01_20261120_060000.log",
    "CU-01/CU-01_20261120_060000.log",
    "CU-01/CU-01_20261120_060000 (1).log",
    "SC-02/Défaut broche.txt",  # UTF-8 is fine; only unreadable bytes are not
    "notes.txt",
]

# One case per member of the kind "a name that is not one clean relative path".
BAD = {
    "dot component": ("a/./b.log", "'.' component"),
    "leading dot component": ("./b.log", "'.' component"),
    "dot-dot": ("..", "'..'"),
    "climbing out": ("CU-01/../../x.log", "'..'"),
    "dot-dot first": ("../etc/passwd", "'..'"),
    "backslash": ("CU-01\\x.log", "backslash"),
    "windows path": ("C:\\logs\\x.log", "absolute"),
    "tab": ("CU-01/x\t.log", "control character \\t"),
    "newline": ("CU-01/x\n.log", "control character \\n"),
    "carriage return": ("x\r.log", "control character \\r"),
    "NUL": ("x\x00.log", "control character \\x00"),
    "escape": ("x\x1b[31m.log", "control character \\x1b"),
    "DEL": ("x\x7f.log", "control character \\x7f"),
    "C1 control": ("x\x85.log", "control character \\x85"),
    "not UTF-8": ("Relev\udce9 production.txt", "not UTF-8"),
    "lone surrogate": ("x\ud800.log", "not UTF-8"),
    "absolute": ("/etc/passwd", "absolute"),
    "absolute backslash": ("\\\\server\\share\\x.log", "backslash"),
    "empty": ("", "empty"),
    "empty component": ("CU-01//x.log", "empty"),
    "trailing slash": ("CU-01/", "empty"),
}


@pytest.mark.parametrize("path", GOOD)
def test_plain_relative_names_are_drop_paths(path):
    assert is_safe_path(path)
    assert check_drop_path(path) == path  # returned as is: never normalised


@pytest.mark.parametrize(("path", "reason"), BAD.values(), ids=BAD.keys())
def test_every_other_spelling_is_refused_with_its_reason(path, reason):
    assert not is_safe_path(path)
    assert reason in path_problem(path)
    with pytest.raises(UnsafePathError) as caught:
        check_drop_path(path)
    message = str(caught.value)
    assert message.startswith(f"refused remote name {readable(path)!r}") and reason in message
    assert message.isprintable(), "the message itself must not carry the bad characters"


def test_readable_shows_bytes_that_are_not_utf8_and_controls_escaped():
    assert readable("Relev\udce9 production.txt") == "Relev\\xe9 production.txt"
    assert readable("a\tb\x00") == "a\\tb\\x00"
    assert readable("Défaut.log") == "Défaut.log"
    assert readable("x\ud800") == "x\\ud800"


@pytest.mark.parametrize(
    ("name", "temporary"),
    [
        ("CU-01_20261120_060000.log.part", True),
        ("CU-01_20261120_060000.log.TMP", True),
        ("CU-01/CU-01_20261120_060000.log.tmp", True),
        ("CU-01_20261120_060000.log", False),
        ("CU-01_20261120_060000.partial.log", False),
    ],
)
def test_temporary_upload_names(name, temporary):
    assert is_temporary(name) is temporary


def test_hidden_names():
    assert is_hidden(".") and is_hidden("..") and is_hidden(".CU-01_20261120.log.a1b2c3")
    assert not is_hidden("CU-01_20261120_060000.log")


def test_machine_from_the_file_name():
    assert machine_from_path("CU-01_20261120_060000 (1).log") == "CU-01"
    assert machine_from_path("SC-03/SC-03_20261120_060000.log") == "SC-03"
    assert machine_from_path("CU-01/notes.txt") is None
