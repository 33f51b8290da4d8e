"""What the Identity Center simulator looks up in moto's other backends, in-process.

Organizations (which accounts exist, their status), the identity store (which users and groups
exist) and IAM (which customer-managed policies exist in which account; which AWS-managed
policies exist at all, from moto's copy of AWS's managed-policy list, which knows their paths).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import iam_backends
from moto.identitystore.models import IdentityStoreData, identitystore_backends
from moto.organizations.models import organizations_backends


@cache
def aws_managed_policy_arns() -> frozenset[str]:
    """ARNs of every AWS-managed policy moto knows, with their paths.

    e.g. ``arn:aws:iam::aws:policy/job-function/ViewOnlyAccess``.
    """
    data: dict[str, dict[str, Any]] = json.loads(aws_managed_policies_data)
    return frozenset(
        f"arn:aws:iam::aws:policy{entry.get('Path', '/')}{name}" for name, entry in data.items()
    )


def customer_managed_policy_arn(*, account_id: str, name: str, path: str) -> str:
    """``arn:aws:iam::<account>:policy<path><name>`` (path starts and ends with ``/``)."""
    return f"arn:aws:iam::{account_id}:policy{path}{name}"


class MotoDirectory:
    """Read-only view of moto's organizations, identitystore and IAM backends.

    ``management_account_id`` is the account that owns the organization and the identity
    store; ``region`` is where the identity store lives.
    """

    def __init__(self, *, management_account_id: str, region: str) -> None:
        self.management_account_id = management_account_id
        self.region = region

    def account_status(self, account_id: str) -> str | None:
        """Organizations status of a member account (``ACTIVE``, ``SUSPENDED``,
        ``PENDING_CLOSURE``), or None when the account is not in the organization."""
        backend = organizations_backends[self.management_account_id]["aws"]
        for account in backend.accounts:
            if account.id == account_id:
                return str(account.status)
        return None

    def identity_store(self, identity_store_id: str) -> IdentityStoreData | None:
        """moto's data of one identity store, or None if it was never created."""
        backend = identitystore_backends[self.management_account_id][self.region]
        stores: dict[str, IdentityStoreData] = backend.identity_stores
        return stores.get(identity_store_id)

    def principal_exists(
        self, *, identity_store_id: str, principal_type: str, principal_id: str
    ) -> bool:
        """Whether a ``USER`` or ``GROUP`` with that id exists in the identity store."""
        store = self.identity_store(identity_store_id)
        if store is None:
            return False
        if principal_type == "USER":
            return principal_id in store.users
        return principal_id in store.groups

    def principal_name(
        self, *, identity_store_id: str, principal_type: str, principal_id: str
    ) -> str | None:
        """The user name of a ``USER`` or display name of a ``GROUP``; None when unknown."""
        store = self.identity_store(identity_store_id)
        if store is None:
            return None
        if principal_type == "USER":
            user = store.users.get(principal_id)
            return None if user is None else str(user.UserName)
        group = store.groups.get(principal_id)
        return None if group is None else str(group.DisplayName)

    def customer_managed_policy_exists(self, *, account_id: str, name: str, path: str) -> bool:
        """Whether IAM in ``account_id`` holds a customer-managed policy ``path`` + ``name``."""
        arn = customer_managed_policy_arn(account_id=account_id, name=name, path=path)
        backend = iam_backends[account_id]["global"]
        return arn in backend.managed_policies

    @staticmethod
    def aws_managed_policy_exists(arn: str) -> bool:
        """Whether ``arn`` names an AWS-managed policy (path included)."""
        return arn in aws_managed_policy_arns()
