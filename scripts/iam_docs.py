"""Regenerate the generated parts of docs/iam.md from the code: each block after a
``<!-- generated: reconciler iam-policy ARGS -->`` marker is what ``reconciler iam-policy ARGS``
prints, and the block after ``<!-- generated: grants -->`` is ``permissions.grants_markdown()``.

    python -m scripts.iam_docs          # rewrite docs/iam.md
    python -m scripts.iam_docs --check  # exit 1 when docs/iam.md is stale

``tests/unit/test_iam_docs.py`` fails when docs/iam.md differs from what this writes.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from pathlib import Path

from reconciler.adapters.aws.permissions import grants_markdown
from reconciler.cli import main as reconciler_main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "iam.md"
GENERATED = re.compile(
    r"(?P<marker><!-- generated: (?P<what>[^>]*?) -->\n)(?P<body>.*?)"
    r"(?P<end><!-- end generated -->)",
    re.DOTALL,
)


def command_output(arguments: list[str]) -> str:
    """What ``reconciler ARGUMENTS`` prints on stdout (stderr dropped); raises
    ``RuntimeError`` when it exits with another code than 0."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = reconciler_main(arguments)
    if code != 0:
        raise RuntimeError(f"reconciler {shlex.join(arguments)} exited {code}: {err.getvalue()}")
    return out.getvalue()


def generated(what: str) -> str:
    """The body of the generated block ``what`` names (``reconciler iam-policy ...`` or
    ``grants``)."""
    if what == "grants":
        return grants_markdown()
    words = shlex.split(what)
    if words[:2] != ["reconciler", "iam-policy"]:
        raise ValueError(f"unknown generated block: {what!r}")
    return "```json\n" + command_output(words[1:]) + "```\n"


def regenerate(text: str) -> str:
    """``text`` with every generated block rewritten."""
    return GENERATED.sub(
        lambda found: found["marker"] + generated(found["what"]) + found["end"], text
    )


def main(argv: list[str] | None = None) -> int:
    """Rewrite docs/iam.md, or with ``--check`` say whether it is stale (exit 1)."""
    argv = sys.argv[1:] if argv is None else argv
    text = DOCS.read_text()
    fresh = regenerate(text)
    if "--check" in argv:
        if fresh != text:
            sys.stderr.write(f"{DOCS} is stale: run `python -m scripts.iam_docs`\n")
            return 1
        return 0
    DOCS.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
