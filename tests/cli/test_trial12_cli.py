"""Findings of the issue-12 trial on the command line: `user list` shows each user's MDT role in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_every_action_cli import run


def test_user_list_shows_the_mdt_role_a_user_signs_as(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, _, err = run(capsys, data, "user", "list")  # the first start: the signed-in account becomes admin
    assert code == 0, err
    code, _, err = run(
        capsys, data, "user", "add", "cons-x", "--name", "Dr Ima Invented", "--role", "consultant",
        "--mdt-role", "functional_neurosurgeon",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run(capsys, data, "user", "list")
    assert code == 0, err
    (line,) = [text for text in out.splitlines() if text.startswith("cons-x")]
    assert "Dr Ima Invented" in line and "consultant" in line and "[Functional neurosurgeon]" in line
