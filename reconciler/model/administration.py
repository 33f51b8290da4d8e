"""Who administers Identity Center in a pass, and what a delegated administrator may not touch.

Pure. The AWS adapter reads the facts (the caller's account, STS GetCallerIdentity; the
instance's owner, sso-admin ListInstances ``OwnerAccountId``; the organization's management
account, Organizations DescribeOrganization ``MasterAccountId``, when a pass reads it) and
``administration_role`` decides from them.

AWS (IAM Identity Center user guide, "Delegated administration",
https://docs.aws.amazon.com/singlesignon/latest/userguide/delegated-admin.html): an organization
instance belongs to the management account; one member account may be registered as its
delegated administrator, and then sees and administers the same instance. Tasks that "can only
be performed from the management account" include managing permission sets provisioned in the
management account, and so creating or deleting account assignments there (assigning access to
the management account is reserved to it: "Delegate who can assign single sign-on access to
users and groups in the management account",
https://docs.aws.amazon.com/singlesignon/latest/userguide/howtodelegatessoaccess.html). AWS
answers such writes from a delegated administrator with AccessDeniedException, pass after pass:
``management_assignment_problem`` and ``management_permission_set_problem`` say so at plan time
instead, naming the file, the entry and the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reconciler.errors import Problem

DELEGATED_ADMINISTRATION_GUIDE = (
    "https://docs.aws.amazon.com/singlesignon/latest/userguide/delegated-admin.html"
)


class AdministrationRole(StrEnum):
    """How the caller of a pass administers the instance.

    ``MANAGEMENT_ACCOUNT``: the caller's account owns the instance (the organization's
    management account, for an organization instance); ``DELEGATED_ADMINISTRATOR``: a member
    account registered as the instance's delegated administrator; ``ACCOUNT_INSTANCE``: a
    member account that owns an account instance of its own (standalone: it can assign access
    to no account of the organization).
    """

    MANAGEMENT_ACCOUNT = "management account"
    DELEGATED_ADMINISTRATOR = "delegated administrator"
    ACCOUNT_INSTANCE = "account instance"


def administration_role(
    *,
    caller_account_id: str,
    instance_owner_account_id: str,
    management_account_id: str | None = None,
) -> AdministrationRole:
    """The caller's role, from 12-digit account ids.

    A caller that does not own the instance it reaches can only be its delegated administrator
    (ListInstances shows another account's instance to no one else). A caller that owns it is
    the management account, unless the organization's management account is known
    (``management_account_id``) and is another account: then the instance is an account
    instance of a member account. Never raises.
    """
    if caller_account_id != instance_owner_account_id:
        return AdministrationRole.DELEGATED_ADMINISTRATOR
    if management_account_id is not None and management_account_id != caller_account_id:
        return AdministrationRole.ACCOUNT_INSTANCE
    return AdministrationRole.MANAGEMENT_ACCOUNT


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """The AWS account a pass calls from, and the instance owner it was compared with.

    ``account_id``: the caller's account (STS GetCallerIdentity ``Account``);
    ``instance_owner_account_id``: the instance's ``OwnerAccountId`` (sso-admin ListInstances),
    the management account for an organization instance; ``management_account_id``: the
    organization's management account when DescribeOrganization was read, else None.
    """

    account_id: str
    instance_owner_account_id: str
    management_account_id: str | None = None

    @property
    def role(self) -> AdministrationRole:
        """``administration_role`` of these ids."""
        return administration_role(
            caller_account_id=self.account_id,
            instance_owner_account_id=self.instance_owner_account_id,
            management_account_id=self.management_account_id,
        )

    @property
    def delegated_administrator(self) -> bool:
        """True when the caller is the instance's delegated administrator."""
        return self.role is AdministrationRole.DELEGATED_ADMINISTRATOR

    @property
    def management_account(self) -> str:
        """The organization's management account id (the instance's owner when not read)."""
        return self.management_account_id or self.instance_owner_account_id


def _runs_as(caller: Caller) -> str:
    return f"this pass runs as the delegated administrator (account {caller.account_id})"


def management_assignment_problem(
    *,
    file: str,
    path: str,
    permission_set: str,
    principals: str,
    management: str,
    caller: Caller,
) -> Problem:
    """The problem of an assignment entry (at ``file``/``path``) whose targets include the
    management account (``management``: its name and id), when ``caller`` is a delegated
    administrator: rule ``management_account_assignment``."""
    return Problem(
        file=file,
        path=path,
        rule="management_account_assignment",
        message=f"permission set {permission_set} for {principals} in the management account "
        f"{management}: {_runs_as(caller)}, and AWS lets only the management account create or "
        "delete account assignments there (IAM Identity Center user guide, Delegated "
        f"administration, {DELEGATED_ADMINISTRATION_GUIDE}); run the reconciler from the "
        "management account, or drop the management account from this entry",
    )


def management_permission_set_problem(
    *, file: str, path: str, permission_set: str, management: str, caller: Caller
) -> Problem:
    """The problem of a declared permission set (at ``file``/``path``) that is provisioned to
    the management account (``management``: its name and id), when ``caller`` is a delegated
    administrator: rule ``management_account_permission_set``."""
    return Problem(
        file=file,
        path=path,
        rule="management_account_permission_set",
        message=f"permission set {permission_set} is provisioned to the management account "
        f"{management}: {_runs_as(caller)}, and AWS lets only the management account change a "
        "permission set provisioned there (IAM Identity Center user guide, Delegated "
        f"administration, {DELEGATED_ADMINISTRATION_GUIDE}); run the reconciler from the "
        "management account, or drop this permission set from the repository (a delegated "
        "administrator then leaves it as it is)",
    )
