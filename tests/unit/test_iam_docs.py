"""docs/iam.md shows exactly what ``reconciler iam-policy`` prints and the registry holds."""

from __future__ import annotations

import pytest

from scripts.iam_docs import DOCS, GENERATED, generated


def _blocks() -> list[tuple[str, str]]:
    return [(found["what"], found["body"]) for found in GENERATED.finditer(DOCS.read_text())]


def test_docs_show_every_role_and_the_registry() -> None:
    shown = {what for what, _ in _blocks()}

    assert "grants" in shown
    for role in ("plan", "apply", "lease", "management-account"):
        assert any(what.startswith(f"reconciler iam-policy --role {role}") for what in shown), role


@pytest.mark.parametrize(("what", "body"), _blocks(), ids=[what for what, _ in _blocks()])
def test_each_generated_block_of_the_docs_is_what_the_code_prints(what: str, body: str) -> None:
    assert body == generated(what), "docs/iam.md is stale: run `python -m scripts.iam_docs`"
