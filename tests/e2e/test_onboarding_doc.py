"""docs/onboarding.md works as written: its files, committed to a new repository, and its
commands, run from the top of it against the sandbox (an empty Identity Center with accounts
prod and staging), give the exit codes and the plan the page shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.test_cli import run_cli
from tests.support import commit_all, git

DOC = Path(__file__).resolve().parents[2] / "docs" / "onboarding.md"
FILE = re.compile(r"^`(desired-state/[^`]+\.json)`:\n\n```json\n(.*?)\n```$", re.M | re.S)
COMMANDS = re.compile(r"^```sh\n(.*?)\n```$", re.M | re.S)
COMMAND = re.compile(r"^reconciler (\S+)\s+# exit (\d)$")
TEXT = re.compile(r"^```text\n(.*?)\n```$", re.M | re.S)

pytestmark = pytest.mark.usefixtures("aws_environment", "organization")


def _page() -> str:
    return DOC.read_text(encoding="utf-8")


def _commands() -> list[tuple[str, int]]:
    """``(command, expected exit code)`` of each ``reconciler X  # exit N`` line of the page."""
    found = []
    for block in COMMANDS.findall(_page()):
        for line in block.splitlines():
            match = COMMAND.match(line.strip())
            if match:
                found.append((match.group(1), int(match.group(2))))
    return found


def _normalized(text: str) -> list[str]:
    """Lines with the revision and account ids (which differ between sandboxes) masked."""
    text = re.sub(r"\b[0-9a-f]{12}\b(?=:)", "<revision>", text)
    return [re.sub(r"\(\d{12}\)", "(<account>)", line.rstrip()) for line in text.splitlines()]


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A new repository holding the files of the page, committed."""
    path = tmp_path / "access"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    files = FILE.findall(_page())
    assert {name for name, _ in files} == {
        "desired-state/reconciler.json",
        "desired-state/users.json",
        "desired-state/groups.json",
        "desired-state/permission-sets/AdministratorAccess.json",
        "desired-state/assignments.json",
    }
    for name, content in files:
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content + "\n", encoding="utf-8")
    commit_all(path, "Onboard the platform administrators")
    return path


def test_the_page_gives_the_four_commands_with_their_exit_codes() -> None:
    assert _commands() == [("validate", 0), ("plan", 2), ("apply", 0), ("plan", 0)]


def test_the_commands_of_the_page_give_its_exit_codes_and_its_plan(repository: Path) -> None:
    outputs = []
    for command, expected in _commands():
        result = run_cli(command, cwd=repository, env=None)
        assert result.returncode == expected, (command, result.stdout, result.stderr)
        outputs.append(result.stdout)

    (shown,) = [block for block in TEXT.findall(_page()) if block.startswith("Plan for")]
    # Changes are sorted by key (account id first): prod and staging swap with the sandbox's ids.
    assert sorted(_normalized(outputs[1])) == sorted(_normalized(shown))
    assert "Onboarding: 1 user created (jane.doe)" in outputs[2]
    assert "no changes" in outputs[3]
