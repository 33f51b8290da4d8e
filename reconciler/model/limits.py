"""What AWS accepts, checked locally before any call.

Each rule cites its source. Patterns are botocore's service-model patterns (``sso-admin`` and
``identitystore`` ``service-2.json``), anchored, and evaluated with the ``regex`` package because
they use Unicode property classes (``\\p{L}``) that ``re`` lacks. Java's ``\\w`` is ASCII-only, so
it is spelled out where the model uses it. ``tests/unit/test_limits.py`` compares these values
with the installed botocore model so a drift fails the build.
"""

from __future__ import annotations

import json
from typing import Any

import regex

# sso-admin PermissionSetName: min 1, max 32, pattern [\w+=,.@-]+
PERMISSION_SET_NAME_MAX = 32
PERMISSION_SET_NAME = regex.compile(r"[A-Za-z0-9_+=,.@-]+")
# sso-admin PermissionSetDescription: min 1, max 700, Latin-1 printable plus tab/newlines
DESCRIPTION_MAX = 700
DESCRIPTION = regex.compile(r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*")
# IAM Identity Center user guide, "Set session duration": 1 to 12 hours
SESSION_MIN_SECONDS = 3600
SESSION_MAX_SECONDS = 12 * 3600
# sso-admin RelayState: min 1, max 240
RELAY_STATE_MAX = 240
RELAY_STATE = regex.compile(r"[a-zA-Z0-9&$@#\\/%?=~\-_'\"|!:,.;*+\[\] (){}]+")
# sso-admin ManagedPolicyArn (AWS managed policies only: the account field is "aws")
MANAGED_POLICY_ARN = regex.compile(
    r"arn:aws(-[a-z]{1,5}){0,3}:iam::aws:policy((/[A-Za-z0-9.,+@=_-]+)*)/([A-Za-z0-9.,+=@_-]+)"
)
CUSTOMER_POLICY_ARN = regex.compile(r"arn:aws(-[a-z]{1,5}){0,3}:iam::\d{12}:policy(/.*)?/([^/]+)")
MANAGED_POLICY_ARN_MAX = 2048
# sso-admin ManagedPolicyName / ManagedPolicyPath (customer-managed policy references)
POLICY_NAME_MAX = 128
POLICY_NAME = regex.compile(r"[A-Za-z0-9_+=,.@-]+")
POLICY_PATH_MAX = 512
POLICY_PATH = regex.compile(r"((/[A-Za-z0-9.,+@=_-]+)*)/")
# Managed plus customer-managed policies per permission set: the role provisioned into each
# account is bound by IAM's managed-policies-per-role quota, 10 by default and at most 25 when
# raised (IAM user guide, "IAM and AWS STS quotas"). Above 10 provisioning fails in any account
# where the quota was not raised, so it is a warning; above 25 it can never work.
POLICIES_WARN_ABOVE = 10
POLICIES_MAX = 25
# sso-admin PermissionSetPolicyDocument: max 32,768 characters of Latin-1 (pattern below, checked
# on the compact JSON sent); IAM Identity Center quotas: inline policy at most 10,240 characters
# excluding whitespace
INLINE_POLICY_MAX = 32768
INLINE_POLICY = regex.compile(r"[\u0009\u000A\u000D\u0020-\u00FF]+")
INLINE_POLICY_NON_WHITESPACE_MAX = 10240
# sso-admin TagKey / TagValue; IAM Identity Center: 50 tags per resource, aws: prefix reserved
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
TAG_KEY = regex.compile(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*")
TAG_VALUE = TAG_KEY
TAGS_MAX = 50
# sso-admin AccessControlAttributeList: at most 50; AccessControlAttributeKey: min 1, max 128;
# AccessControlAttributeValueSourceList: exactly one source (min 1, max 1);
# AccessControlAttributeValueSource: min 0, max 256
ACCESS_CONTROL_ATTRIBUTES_MAX = 50
ACCESS_CONTROL_ATTRIBUTE_KEY_MAX = 128
ACCESS_CONTROL_ATTRIBUTE_KEY = regex.compile(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+")
ACCESS_CONTROL_ATTRIBUTE_SOURCE_MAX = 256
ACCESS_CONTROL_ATTRIBUTE_SOURCE = regex.compile(r"[\p{L}\p{Z}\p{N}_.:/=+\-@\[\]{}$\\\"]*")
# identitystore UserName: min 1, max 128, no whitespace
USER_NAME_MAX = 128
USER_NAME = regex.compile(r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+")
# IAM Identity Center user guide: user names reserved for AWS use
RESERVED_USER_NAMES = frozenset({"administrator", "awsadministrators"})
# identitystore SensitiveStringType / GroupDisplayName: min 1, max 1024
IDENTITY_STRING_MAX = 1024
IDENTITY_STRING = regex.compile(r"[\p{L}\p{M}\p{S}\p{N}\p{P}\t\n\r \u00a0\u3000]+")
# Organizations AccountId; AccountName: min 1, max 128
ACCOUNT_ID = regex.compile(r"\d{12}")
ACCOUNT_NAME_MAX = 128

_DURATION = regex.compile(r"PT(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?")


def full_match(pattern: regex.Pattern[str], value: str) -> bool:
    """True when ``value`` matches ``pattern`` from start to end, as AWS's models anchor them."""
    return pattern.fullmatch(value) is not None


def duration_seconds(value: str) -> int | None:
    """Seconds in an ISO-8601 time duration (``PT1H``, ``PT1H30M``, ``PT5400S``).

    Returns None when ``value`` is not an ISO-8601 duration of hours, minutes and seconds.
    Days, weeks, months and years are refused: a session lasts at most 12 hours.
    """
    match = _DURATION.fullmatch(value)
    if match is None:
        return None
    hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def canonical_duration(seconds: int) -> str:
    """Canonical ISO-8601 spelling of ``seconds``: ``3600`` is ``PT1H``, ``5400`` ``PT1H30M``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if secs or text == "PT":
        text += f"{secs}S"
    return text


def inline_policy_sizes(document: Any) -> tuple[int, int]:
    """(characters, non-whitespace characters) of ``document`` as sent to AWS (compact JSON)."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return len(text), sum(1 for char in text if not char.isspace())
