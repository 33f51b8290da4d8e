"""Onboarding: what AWS does, and does not do, for the users a plan creates.

Pure. The console's "Add user" sends a password-setup email; a user created through the
identitystore API (``CreateUser``, as the reconciler does) has no password and gets no email
unless the instance's setting "Send email OTP" is on, and multi-factor authentication is
configured in the console only. Neither setting can be read or changed through the APIs the
reconciler calls: in botocore's service models (1.44), no identitystore operation and no
sso-admin operation (``UpdateInstance`` takes a name, encryption, network configuration and
``PermissionSetsEnabled`` only) touches them. So every plan and report that creates users says
it once, with the console paths, instead of leaving a new user unable to sign in.

Sources (AWS IAM Identity Center User Guide):

- https://docs.aws.amazon.com/singlesignon/latest/userguide/userswithoutpwd.html — users made
  with CreateUser have no password; with "Send email OTP" enabled (Settings → Authentication →
  Standard authentication → Configure) they receive a one-time password by email at their
  first sign-in, if they have an email; otherwise an administrator must generate a one-time
  password and share it.
- https://docs.aws.amazon.com/singlesignon/latest/userguide/reset-password-for-user.html — Users
  → the user → Reset password: send a reset email, or generate a one-time password.
- https://docs.aws.amazon.com/singlesignon/latest/userguide/mfa-getting-started.html — MFA
  settings: Settings → Authentication → Multi-factor authentication → Configure (not
  available with an external identity provider, which manages MFA itself).
- https://docs.aws.amazon.com/singlesignon/latest/userguide/enable-mfa.html — MFA is on by
  default: every user registers a device at the first sign-in.

Never shown when identities are external (``"identities": "external"``): the reconciler then
creates no user, and the identity provider owns passwords and MFA.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.model.wording import count
from reconciler.planning.outcomes import Outcome, Status
from reconciler.planning.plans import CreateUser, Plan

PASSWORD_SOURCE = "https://docs.aws.amazon.com/singlesignon/latest/userguide/userswithoutpwd.html"  # noqa: S105 - a URL, not a password
RESET_SOURCE = (
    "https://docs.aws.amazon.com/singlesignon/latest/userguide/reset-password-for-user.html"
)
MFA_SOURCE = "https://docs.aws.amazon.com/singlesignon/latest/userguide/mfa-getting-started.html"

EMAIL_OTP_CONSOLE_PATH = (
    "Settings → Authentication → Standard authentication → Configure → Send email OTP"
)
"""Where the setting "Send email OTP for users created from API" is, in the IAM Identity
Center console."""
RESET_CONSOLE_PATH = "Users → <user> → Reset password"
MFA_CONSOLE_PATH = "Settings → Authentication → Multi-factor authentication → Configure"

PASSWORD_NOTE = (
    "No password-setup email: users created through the API have no password, and AWS emails "
    "them a one-time password at their first sign-in only when the IAM Identity Center setting "
    f'"Send email OTP for users created from API" is enabled (console: {EMAIL_OTP_CONSOLE_PATH}'
    "); the reconciler can neither read nor set it. Without it, send each user a password "
    f"reset or a one-time password from the console ({RESET_CONSOLE_PATH}). {PASSWORD_SOURCE}"
)
MFA_NOTE = (
    "MFA: its settings are in the console only (Settings → Authentication → Multi-factor "
    "authentication → Configure), never in the files; on by default, each user registers a "
    f"device at the first sign-in. {MFA_SOURCE}"
)

MAX_NAMES = 20
"""User names listed before "… and N more" in text, Markdown and Slack (JSON lists all)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Onboarding:
    """The users a plan creates (``applied`` False) or an apply created (``applied`` True),
    sorted by user name; ``without_email`` those of them with no email, whom no email OTP can
    reach."""

    users: tuple[str, ...]
    without_email: tuple[str, ...]
    applied: bool


def onboarding_of(plan: Plan | None, outcome: Outcome | None = None) -> Onboarding | None:
    """The onboarding of ``plan``: the users it creates, or with ``outcome`` those whose
    CreateUser succeeded; ``None`` when there are none (so always with external identities,
    which never create users)."""
    if outcome is not None:
        created = [
            result.operation.user
            for result in outcome.results
            if isinstance(result.operation, CreateUser) and result.status is Status.SUCCEEDED
        ]
    elif plan is not None:
        created = [op.user for op in plan.operations if isinstance(op, CreateUser)]
    else:
        created = []
    if not created:
        return None
    users = sorted(created, key=lambda user: user.user_name)
    return Onboarding(
        users=tuple(user.user_name for user in users),
        without_email=tuple(user.user_name for user in users if not user.email),
        applied=outcome is not None,
    )


def onboarding_json(onboarding: Onboarding | None) -> dict[str, Any] | None:
    """``{"users": [name], "users_without_email": [name], "applied": bool, "notes": [str],
    "password_setup_email": {"sent_by_aws": false, "unless_setting": str, "console": str,
    "otherwise": str, "source": url}, "mfa": {"managed_by_reconciler": false, "console": str,
    "source": url}}``, or ``None``."""
    if onboarding is None:
        return None
    return {
        "users": list(onboarding.users),
        "users_without_email": list(onboarding.without_email),
        "applied": onboarding.applied,
        "notes": list(onboarding_notes(onboarding)),
        "password_setup_email": {
            "sent_by_aws": False,
            "unless_setting": "Send email OTP for users created from API",
            "console": EMAIL_OTP_CONSOLE_PATH,
            "otherwise": f"a password reset or one-time password from {RESET_CONSOLE_PATH}",
            "source": PASSWORD_SOURCE,
        },
        "mfa": {"managed_by_reconciler": False, "console": MFA_CONSOLE_PATH, "source": MFA_SOURCE},
    }


def onboarding_heading(onboarding: Onboarding) -> str:
    """``Onboarding: 2 users to create (ann, bob); AWS does not do everything for them:``."""
    verb = "created" if onboarding.applied else "to create"
    return (
        f"Onboarding: {count(len(onboarding.users), 'user')} {verb} "
        f"({listed(onboarding.users)}); what AWS does not do for them:"
    )


def onboarding_notes(onboarding: Onboarding) -> tuple[str, ...]:
    """The notes under the heading: the password email, MFA, and the users without email."""
    notes = [PASSWORD_NOTE, MFA_NOTE]
    if onboarding.without_email:
        notes.append(
            f"No email for {listed(onboarding.without_email)}: no email OTP or reset can reach "
            f"{'them' if len(onboarding.without_email) > 1 else 'this user'}; generate a "
            f"one-time password in the console ({RESET_CONSOLE_PATH}) and hand it over, or "
            "add an email in the files"
        )
    return tuple(notes)


def listed(names: Sequence[str], limit: int = MAX_NAMES) -> str:
    """``ann, bob`` — at most ``limit`` names, then ``… and N more``."""
    shown = ", ".join(names[:limit])
    rest = len(names) - limit
    return f"{shown} … and {rest} more" if rest > 0 else shown
