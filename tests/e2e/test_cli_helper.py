"""The tests' fast ``python -m reconciler`` (:mod:`tests.cli_zygote`) gives what a real process
gives: the same exit status, standard output and standard error, in the environment and folder
asked for, and a command past its timeout is killed."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests import cli_zygote
from tests.support import commit_all


def both(arguments: list[str], env: dict[str, str], cwd: Path | None = None) -> list[object]:
    """The helper's result and the real process's, as comparable tuples."""
    results = [
        cli_zygote.run(arguments, env=env, cwd=cwd, timeout=120, real_process=real)
        for real in (False, True)
    ]
    return [(result.returncode, result.stdout, result.stderr) for result in results]


@pytest.mark.parametrize(
    "arguments",
    [
        ["validate", "--offline", "--repo", "{repo}"],
        ["validate", "--offline", "--repo", "{repo}", "--format", "json"],
        ["plan", "--repo", "{repo}", "--no-such-option"],  # argparse: exit 2 on stderr
        ["validate", "--offline", "--repo", "{repo}/missing"],
        ["--version"],
    ],
    ids=["text", "json", "usage-error", "missing-repo", "version"],
)
def test_the_helper_gives_what_a_real_process_gives(
    access_repo: Path, arguments: list[str]
) -> None:
    (access_repo / "desired-state" / "users.json").write_text('{"users": [NaN]}')
    commit_all(access_repo, "A user that is not a JSON object")  # problems on stdout, exit 1
    arguments = [argument.format(repo=access_repo) for argument in arguments]

    helper, real = both(arguments, dict(os.environ))

    assert helper == real


def test_the_command_sees_the_environment_and_folder_it_is_given(
    access_repo: Path, tmp_path: Path
) -> None:
    """No AWS configuration at all: `validate` (online) names what is missing; the relative
    ``--repo`` is found from ``cwd``."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment |= {
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    arguments = ["validate", "--repo", access_repo.name]

    helper, real = both(arguments, environment, cwd=access_repo.parent)

    assert helper == real
    assert helper[0] == 1
    assert "AWS_" in str(helper[1]) + str(helper[2])


def test_a_command_past_its_timeout_is_killed(access_repo: Path) -> None:
    """An endpoint that accepts and never answers: the command waits on it until killed.
    ``TimeoutExpired`` comes only once the command's exit status is known (a command still
    running a minute after the kill is a ``RuntimeError``); if it had connected, its end of the
    connection is closed."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        environment = {
            **os.environ,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.getsockname()[1]}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_MAX_ATTEMPTS": "1",
        }
        with pytest.raises(subprocess.TimeoutExpired):
            cli_zygote.run(["plan", "--repo", str(access_repo)], env=environment, timeout=5)
        server.settimeout(1)
        try:
            connection, _ = server.accept()  # made before the timeout, if the machine was quick
        except TimeoutError:
            return
        with connection:
            connection.settimeout(60)  # the request it sent, then the end of its closed side
            while connection.recv(65536):
                pass
