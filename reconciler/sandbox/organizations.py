"""Organizations ListAccounts over moto's organizations backend, paged like AWS.

moto 5.2.5 pages ListAccounts at 100 with a token keyed on the join timestamp (accounts that
joined in the same second collide) and accepts MaxResults above 20. AWS's model caps MaxResults
at 20 (botocore ``organizations`` model), which the sandbox enforces and uses as the page size.
"""

from __future__ import annotations

from typing import Any

from moto.organizations.models import organizations_backends

from reconciler.sandbox.errors import ServiceError
from reconciler.sandbox.protocol import JsonService, paginate, start_token

#: Largest ListAccounts page AWS returns (MaxResults 1-20 in the API model).
ACCOUNTS_PAGE_LIMIT = 20


class OrganizationsApi:
    """ListAccounts of the organization managed by ``management_account_id``."""

    def __init__(self, *, management_account_id: str, empty_first_page: bool = False) -> None:
        self.management_account_id = management_account_id
        self.empty_first_page = empty_first_page

    def service(self) -> JsonService:
        """The JSON-1.1 service answering ListAccounts (everything else goes to moto)."""
        return JsonService(service="organizations", handlers={"ListAccounts": self.list_accounts})

    def list_accounts(self, p: dict[str, Any]) -> dict[str, Any]:
        """ListAccounts: every account with Id, Arn, Email, Name, Status, State, JoinedMethod,
        JoinedTimestamp; at most 20 per page, in join order."""
        backend = organizations_backends[self.management_account_id]["aws"]
        if backend.org is None:
            raise ServiceError(
                "AWSOrganizationsNotInUseException",
                "Your account is not a member of an organization.",
            )
        if self.empty_first_page and not p.get("NextToken"):
            return {"Accounts": [], "NextToken": start_token("ListAccounts")}
        page, token = paginate(
            backend.accounts,
            key=lambda account: f"{account.create_time.isoformat()}|{account.id}",
            scope="ListAccounts",
            next_token=p.get("NextToken"),
            max_results=p.get("MaxResults"),
            page_limit=ACCOUNTS_PAGE_LIMIT,
        )
        return {"Accounts": [account.describe() for account in page], "NextToken": token}
