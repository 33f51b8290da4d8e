"""The fault campaign (``scripts/fault_campaign.py``, ``make faults``) in a short version: a
tiny organization, two revisions, passes killed at random moments under injected throttling,
server errors, resets, timeouts and lost responses. It must converge with no duplicate and no
unintended deletion, and say so on its last line."""

from __future__ import annotations

import pytest

from scripts.fault_campaign import main


@pytest.mark.slow
def test_a_short_campaign_converges_with_no_duplicate_and_no_unintended_deletion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "--accounts=3",
            "--permission-sets=3",
            "--groups=4",
            "--users=8",
            "--assignments=15",
            "--passes=2",
            "--kill-rate=1",
            "--recovery-passes=4",
            "--revisions=2",
            "--seed=11",
            "--quiet",
        ]
    )

    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "converged=yes duplicates=0 unintended_deletions=0", "\n".join(lines)
    assert code == 0
    assert any(line.startswith("kills:") and not line.endswith(" 0") for line in lines), lines
    assert any(
        line.startswith("faults injected:") and line.rstrip() != "faults injected:       -"
        for line in lines
    )
