"""The local limits agree with botocore's installed service models, so a model drift fails here.

Each AWS string shape's ``min``, ``max`` and ``pattern`` are read from the installed botocore
(``sso-admin``, ``identitystore``, ``organizations``) and compared with
``reconciler.model.limits``. Patterns are compared by behaviour: both are run on the same
inputs (every code point up to U+04FF, a sample of wider Unicode, and generated strings), after
translating Java's ASCII-only ``\\w`` and ``\\d`` for the ``regex`` package.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model import limits

# Characters outside the first code-point blocks that AWS patterns treat specially: spacing
# (no-break, ideographic, line separator), combining marks, symbols, emoji, CJK, controls.
_WIDE_SAMPLE = (
    "\u00a0\u1680\u2000\u2028\u2029\u202f\u3000\u0301\u20ac\u2603\u4e2d\U0001f512\x7f\x85"
)
_CORPUS = tuple(chr(code) for code in range(0x500)) + tuple(_WIDE_SAMPLE)


@cache
def _model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def _metadata(service: str, shape: str) -> dict[str, Any]:
    metadata: dict[str, Any] = _model(service).shape_for(shape).metadata
    return metadata


def _java_pattern(pattern: str) -> regex.Pattern[str]:
    """Compile a botocore (Java) pattern with Java's meaning of ``\\w`` and ``\\d`` (ASCII only).

    The ``regex`` package's ASCII flag would also narrow ``\\p{L}``, so the two escapes are
    spelled out instead.
    """
    out = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escape = pattern[index : index + 2]
            ascii_class = {"\\w": "A-Za-z0-9_", "\\d": "0-9"}.get(escape)
            if ascii_class is not None:
                out.append(ascii_class if in_class else f"[{ascii_class}]")
            else:
                out.append(escape)
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        index += 1
    return regex.compile("".join(out))


def _disagreements(
    ours: regex.Pattern[str], theirs: regex.Pattern[str], inputs: tuple[str, ...]
) -> list[str]:
    return [
        text
        for text in inputs
        if (ours.fullmatch(text) is None) != (theirs.fullmatch(text) is None)
    ]


LENGTHS = [
    pytest.param("sso-admin", "PermissionSetName", 1, limits.PERMISSION_SET_NAME_MAX, id="ps-name"),
    pytest.param("sso-admin", "PermissionSetDescription", 1, limits.DESCRIPTION_MAX, id="desc"),
    pytest.param("sso-admin", "RelayState", 1, limits.RELAY_STATE_MAX, id="relay-state"),
    pytest.param("sso-admin", "ManagedPolicyArn", None, limits.MANAGED_POLICY_ARN_MAX, id="arn"),
    pytest.param("sso-admin", "ManagedPolicyName", 1, limits.POLICY_NAME_MAX, id="policy-name"),
    pytest.param("sso-admin", "ManagedPolicyPath", 1, limits.POLICY_PATH_MAX, id="policy-path"),
    pytest.param(
        "sso-admin", "PermissionSetPolicyDocument", 1, limits.INLINE_POLICY_MAX, id="inline"
    ),
    pytest.param("sso-admin", "TagKey", 1, limits.TAG_KEY_MAX, id="tag-key"),
    pytest.param("sso-admin", "TagValue", 0, limits.TAG_VALUE_MAX, id="tag-value"),
    pytest.param("identitystore", "UserName", 1, limits.USER_NAME_MAX, id="user-name"),
    pytest.param(
        "identitystore", "SensitiveStringType", 1, limits.IDENTITY_STRING_MAX, id="identity"
    ),
    pytest.param(
        "identitystore", "GroupDisplayName", 1, limits.IDENTITY_STRING_MAX, id="group-name"
    ),
    pytest.param("organizations", "AccountName", 1, limits.ACCOUNT_NAME_MAX, id="account-name"),
    pytest.param(
        "sso-admin",
        "AccessControlAttributeKey",
        1,
        limits.ACCESS_CONTROL_ATTRIBUTE_KEY_MAX,
        id="abac-key",
    ),
    pytest.param(
        "sso-admin",
        "AccessControlAttributeValueSource",
        0,
        limits.ACCESS_CONTROL_ATTRIBUTE_SOURCE_MAX,
        id="abac-source",
    ),
    pytest.param(
        "sso-admin",
        "AccessControlAttributeList",
        0,
        limits.ACCESS_CONTROL_ATTRIBUTES_MAX,
        id="abac-list",
    ),
]


@pytest.mark.parametrize(("service", "shape", "minimum", "maximum"), LENGTHS)
def test_length_limits_match_the_service_model(
    service: str, shape: str, minimum: int | None, maximum: int
) -> None:
    metadata = _metadata(service, shape)
    assert metadata["max"] == maximum
    if minimum is not None:
        assert metadata["min"] == minimum


PATTERNS = [
    pytest.param("sso-admin", "PermissionSetName", limits.PERMISSION_SET_NAME, id="ps-name"),
    pytest.param("sso-admin", "PermissionSetDescription", limits.DESCRIPTION, id="desc"),
    pytest.param("sso-admin", "RelayState", limits.RELAY_STATE, id="relay-state"),
    pytest.param("sso-admin", "ManagedPolicyName", limits.POLICY_NAME, id="policy-name"),
    pytest.param(
        "sso-admin", "PermissionSetPolicyDocument", limits.INLINE_POLICY, id="inline-policy"
    ),
    pytest.param("sso-admin", "TagKey", limits.TAG_KEY, id="tag-key"),
    pytest.param("sso-admin", "TagValue", limits.TAG_VALUE, id="tag-value"),
    pytest.param("sso-admin", "AccountId", limits.ACCOUNT_ID, id="account-id"),
    pytest.param("identitystore", "UserName", limits.USER_NAME, id="user-name"),
    pytest.param("identitystore", "SensitiveStringType", limits.IDENTITY_STRING, id="identity"),
    pytest.param("identitystore", "GroupDisplayName", limits.IDENTITY_STRING, id="group-name"),
    pytest.param(
        "sso-admin", "AccessControlAttributeKey", limits.ACCESS_CONTROL_ATTRIBUTE_KEY, id="abac-key"
    ),
    pytest.param(
        "sso-admin",
        "AccessControlAttributeValueSource",
        limits.ACCESS_CONTROL_ATTRIBUTE_SOURCE,
        id="abac-source",
    ),
]


@pytest.mark.parametrize(("service", "shape", "ours"), PATTERNS)
def test_character_pattern_accepts_the_same_characters_as_the_service_model(
    service: str, shape: str, ours: regex.Pattern[str]
) -> None:
    theirs = _java_pattern(_metadata(service, shape)["pattern"])
    assert _disagreements(ours, theirs, _CORPUS) == []


@pytest.mark.parametrize(("service", "shape", "ours"), PATTERNS)
@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12))
def test_character_pattern_agrees_with_the_service_model_on_generated_text(
    service: str, shape: str, ours: regex.Pattern[str], text: str
) -> None:
    theirs = _java_pattern(_metadata(service, shape)["pattern"])
    assert _disagreements(ours, theirs, (text,)) == []


POLICY_PATHS = (
    "/",
    "/team/",
    "/a/b/c/",
    "//",
    "team/",
    "/team",
    "/te am/",
    "/t.e,a+m@=_-/",
    "/é/",
    "",
)


def test_policy_path_pattern_matches_the_service_model() -> None:
    theirs = _java_pattern(_metadata("sso-admin", "ManagedPolicyPath")["pattern"])
    assert _disagreements(limits.POLICY_PATH, theirs, POLICY_PATHS) == []


MANAGED_ARNS = (
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
    "arn:aws:iam::aws:policy/service-role/AWSConfigRole",
    "arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess",
    "arn:aws-cn:iam::aws:policy/ReadOnlyAccess",
    "arn:aws-iso-b:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::111122223333:policy/TeamBoundary",
    "arn:aws:iam::aws:policy/",
    "arn:aws:iam::aws:policy/Read Only",
    "arn:aws:iam::aws:role/ReadOnlyAccess",
    "arn:aws:iam:us-east-1:aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy//ReadOnlyAccess",
)


def test_managed_policy_arn_pattern_matches_the_service_model() -> None:
    theirs = _java_pattern(_metadata("sso-admin", "ManagedPolicyArn")["pattern"])
    assert _disagreements(limits.MANAGED_POLICY_ARN, theirs, MANAGED_ARNS) == []


def test_an_attribute_for_access_control_takes_exactly_one_source() -> None:
    metadata = _metadata("sso-admin", "AccessControlAttributeValueSourceList")
    assert (metadata["min"], metadata["max"]) == (1, 1)


def test_tag_limit_is_within_the_service_model_list_limit() -> None:
    assert _metadata("sso-admin", "TagList")["max"] >= limits.TAGS_MAX


@pytest.mark.parametrize(
    "duration", ["PT1H", "PT12H", "PT1H30M", "PT90M", "PT5400S", "PT2H0M0S", "PT43200S"]
)
def test_every_accepted_duration_matches_the_service_model_duration_pattern(
    duration: str,
) -> None:
    theirs = _java_pattern(_metadata("sso-admin", "Duration")["pattern"])
    assert limits.duration_seconds(duration) is not None
    assert theirs.fullmatch(duration) is not None


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        ("PT1H", 3600),
        ("PT12H", 43200),
        ("PT13H", 46800),
        ("PT59M", 3540),
        ("PT1H30M", 5400),
        ("PT90M", 5400),
        ("PT3600S", 3600),
        ("PT1H0M1S", 3601),
    ],
)
def test_duration_seconds_reads_hours_minutes_and_seconds(duration: str, seconds: int) -> None:
    assert limits.duration_seconds(duration) == seconds


@pytest.mark.parametrize(
    "text", ["1h", "PT", "P1D", "PT1.5H", "pt1h", "PT1H ", " PT1H", "3600", "", "P0DT1H", "-PT1H"]
)
def test_duration_seconds_refuses_what_is_not_an_iso_time_duration(text: str) -> None:
    assert limits.duration_seconds(text) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3600, "PT1H"), (5400, "PT1H30M"), (43200, "PT12H"), (3601, "PT1H1S"), (0, "PT0S")],
)
def test_canonical_duration_spells_seconds_in_iso_8601(seconds: int, text: str) -> None:
    assert limits.canonical_duration(seconds) == text


@settings(max_examples=100, deadline=None)
@given(seconds=st.integers(min_value=0, max_value=200_000))
def test_canonical_duration_reads_back_as_the_same_seconds(seconds: int) -> None:
    assert limits.duration_seconds(limits.canonical_duration(seconds)) == seconds


def test_inline_policy_sizes_count_the_compact_json_sent_to_aws() -> None:
    document = {"Statement": [{"Effect": "Allow", "Sid": "a b"}]}
    characters, non_whitespace = limits.inline_policy_sizes(document)
    assert characters == len('{"Statement":[{"Effect":"Allow","Sid":"a b"}]}')
    assert non_whitespace == characters - 1
