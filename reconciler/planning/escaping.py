"""Names and other untrusted text made safe for each text output: one place, used by every
renderer (plan text and Markdown, pass reports, Slack messages, access reports, the CLI).

Values from AWS or the desired-state files may hold anything the identity store allows:
AWS accepts ``\\n``, ``\\r`` and ``\\t`` in a group's or user's DisplayName. A renderer that
writes such a value into a one-line output would let its author write lines of their own
("! all clear"), so every value goes through :func:`one_line` (via the format's own function
below) before it reaches a line:

- :func:`one_line`: control characters and line or paragraph separators shown as escapes
  (``\\n``, ``\\r``, ``\\t``, ``\\x1b``, ``\\u2028``), so the value stays on its line;
- :func:`rich_text`: one line, then rich console markup escaped (``[`` cannot open a tag);
- :func:`markdown_text`: one line, HTML made text, then every Markdown metacharacter
  backslash-escaped (GitHub-flavoured Markdown allows a backslash before any ASCII
  punctuation), so a name cannot write a link, an image, emphasis, a code span or a table cell;
- :func:`slack_text`: one line, then ``&``, ``<`` and ``>`` made entities (Slack's
  "Formatting text" reference: the only escapes mrkdwn has), so a name cannot write a link or
  a mention;
- :func:`html_text`: one line, then HTML entities, for Markdown's raw HTML blocks
  (``<details><summary>``), where a backslash escape would show as written.

Multi-line text meant to be multi-line (a pretty-printed policy, a pass's error with one
problem a line) is rendered line by line, each line made one line and indented under the
line it belongs to, so none reads as a top-level line.
"""

from __future__ import annotations

import html
import re

from rich.markup import escape as _rich_escape

__all__ = ["html_text", "markdown_text", "one_line", "rich_text", "slack_text"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""C0 and C1 control characters (newline, carriage return, tab, escape, NEL…) and the Unicode
line and paragraph separators: each can end a line or move the cursor in a terminal."""

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]!~|#])")
"""The ASCII punctuation that gives inline GitHub-flavoured Markdown its meaning where a value
stands: links and images (``[``, ``]``, ``!``), emphasis (``*``, ``_``), strikethrough (``~``),
code spans (a backtick), table cells (``|``), headings (``#``) and escapes themselves (``\\``),
each escaped with a backslash (GFM escapes any ASCII punctuation so). ``&`` and ``<`` are made
HTML entities. ``(``, ``)``, ``-``, ``+`` and ``.`` are left as they are: without ``[`` they
make no link, and a value never starts a line (every line of our Markdown starts with its own
``| ``, ``- ``, ``> `` or ``#### ``), so they make no list item."""


def _escape_control(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def one_line(text: str) -> str:
    """``text`` on one line: each control character (``unicodedata`` category Cc) and line or
    paragraph separator shown as an escape (``\\n``, ``\\r``, ``\\t``, ``\\x1b``, ``\\u2028``);
    every other character kept. ``"Ops\\nAdmins"`` gives ``"Ops\\\\nAdmins"``."""
    return _BREAKING.sub(_escape_control, text)


def rich_text(text: str) -> str:
    """``text`` as literal rich console markup on one line (see :func:`one_line`)."""
    return _rich_escape(one_line(text))


def markdown_text(text: str) -> str:
    """``text`` as literal inline GitHub Markdown on one line that cannot leave its table
    cell, list item, summary or quote: control characters escaped (:func:`one_line`), ``&``
    and ``<`` made HTML entities (``<!--`` would hide the rest of a comment), and each
    Markdown metacharacter escaped with a backslash (``[LGTM](https://x)`` stays text)."""
    escaped = html.escape(one_line(text), quote=False)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", escaped)


def html_text(text: str) -> str:
    """``text`` as literal HTML on one line (:func:`one_line`, then ``&``, ``<``, ``>`` and
    quotes as entities): for Markdown's raw HTML blocks (``<details><summary>``), where
    backslash escapes are not read and would show."""
    return html.escape(one_line(text))


def slack_text(text: str) -> str:
    """``text`` as literal Slack mrkdwn on one line: control characters escaped
    (:func:`one_line`), ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;``, ``&gt;`` (so no
    ``<url|label>`` link, ``<!channel>`` or ``<@U…>`` mention). Slack has no escape for
    ``*``, ``_``, ``~`` or backticks: a name can still show in bold, never as a link."""
    return one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
