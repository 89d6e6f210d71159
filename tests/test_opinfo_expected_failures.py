"""The OpInfo suite's expected-failures file: its lines, and the conditions a line may be limited to
(tests/opinfo/opinfo_support.py)."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "opinfo"))
import opinfo_support  # noqa: E402


def load(tmp_path, text):
    path = tmp_path / "expected.txt"
    path.write_text(text)
    return opinfo_support.ExpectedFailures.load(path)


def test_a_line_applies_only_where_its_condition_holds(tmp_path, monkeypatch):
    monkeypatch.setitem(opinfo_support.CONDITIONS, "holds", lambda: True)
    monkeypatch.setitem(opinfo_support.CONDITIONS, "does-not-hold", lambda: False)
    expected = load(tmp_path, "dot | complex64 | forward | a wrong reference | holds\n"
                              "vdot | complex64 | forward | a wrong reference | does-not-hold\n"
                              "sort | * | * | ties\n")
    assert expected.reason("dot", torch.complex64, ["forward"]) == "a wrong reference"
    assert expected.reason("vdot", torch.complex64) is None
    assert expected.listed_phases("sort", torch.int8) == {"forward", "backward"}


@pytest.mark.parametrize("line, message", [
    ("dot | complex64 | forward | reason | no-such-defect", "unknown condition 'no-such-defect'"),
    ("dot | complex64 | forward", "expected 'operator | dtypes | phases | reason"),
    ("dot | complex65 | forward | reason", "unknown dtype 'complex65'"),
])
def test_a_bad_line_is_named_with_its_number(tmp_path, line, message):
    with pytest.raises(ValueError, match=f"expected.txt:2: {message}".replace("|", r"\|")):
        load(tmp_path, "# a comment\n" + line + "\n")
