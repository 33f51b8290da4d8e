"""The session-wide response-shape check (tests/conftest.py) fails a run on a violation seen in
any process: serially, and under pytest-xdist where each worker runs its own sandboxes.

Each test runs pytest in a subprocess on a small test file that uses the suite's own hooks."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parents[2]

CONFTEST = """
from tests.conftest import (  # the suite's own hooks
    pytest_configure,
    pytest_sessionfinish,
    pytest_testnodedown,
)
"""

A_TEST_THAT_MEETS_A_VIOLATION = """
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from reconciler.sandbox import Sandbox


def test_meets_a_malformed_response_and_passes():
    with Sandbox() as sandbox:  # shape check on: the suite's hooks set the variable
        org = sandbox.seed_example_organization()
        sso = boto3.client(
            "sso-admin", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )
        arn = sso.create_permission_set(InstanceArn=org.instance_arn, Name="A")[
            "PermissionSet"]["PermissionSetArn"]
        if BREAK_THE_SHAPE:
            with sandbox.identity_center.lock:  # 33 characters: the model allows 32
                sandbox.identity_center.permission_sets[arn].name = "N" * 33
        try:
            sso.describe_permission_set(InstanceArn=org.instance_arn, PermissionSetArn=arn)
        except ClientError:
            pass  # a client that swallows the HTTP 500: only the session check can notice


def test_another_test_for_the_other_worker():
    pass
"""


def run_suite_hooks(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *, violation: bool, args: list[str]
) -> pytest.RunResult:
    """pytest in a subprocess on the two tests above, with the suite's session hooks."""
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    )
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_meets=f"BREAK_THE_SHAPE = {violation}\n"
        + textwrap.dedent(A_TEST_THAT_MEETS_A_VIOLATION)
    )
    return pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", *args, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize(
    "args", [pytest.param(["-p", "no:xdist"], id="serial"), pytest.param(["-n", "2"], id="xdist")]
)
def test_a_violation_met_by_a_passing_test_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    result = run_suite_hooks(pytester, monkeypatch, violation=True, args=args)

    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stderr.fnmatch_lines(
        [
            "1 sandbox responses broke botocore's output shape:",
            "  sso-admin DescribePermissionSet $.PermissionSet.Name: max_length: *",
        ]
    )
