"""Helpers shared by tests: Git repositories in temporary folders."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import boto3

from reconciler.sandbox import SeededOrganization


def git(repository: Path, *args: str) -> str:
    """Run git in ``repository`` with a fixed identity; returns stdout."""
    result = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=repository,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def commit_all(repository: Path, message: str) -> str:
    """Commit everything in ``repository``; returns the new revision."""
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "--allow-empty", "-m", message)
    return git(repository, "rev-parse", "HEAD")


class HandMade:
    """Creates identity-store users, groups, memberships and permission sets the way a person in
    the console would: plain boto3 clients configured by the environment (the sandbox's)."""

    def __init__(self, organization: SeededOrganization) -> None:
        self.org = organization
        self.sso = boto3.client("sso-admin")
        self.ids = boto3.client("identitystore")

    def user(self, name: str, **extra: Any) -> str:
        """Create user ``name`` (display, given and family names derived from it); its id."""
        params: dict[str, Any] = {
            "DisplayName": f"{name.title()} Example",
            "Name": {"GivenName": name.title(), "FamilyName": "Example"},
            **extra,
        }
        return str(
            self.ids.create_user(
                IdentityStoreId=self.org.identity_store_id, UserName=name, **params
            )["UserId"]
        )

    def group(self, name: str, **extra: Any) -> str:
        """Create group ``name``; its id."""
        return str(
            self.ids.create_group(
                IdentityStoreId=self.org.identity_store_id, DisplayName=name, **extra
            )["GroupId"]
        )

    def member(self, group_id: str, user_id: str) -> None:
        """Make ``user_id`` a member of ``group_id``."""
        self.ids.create_group_membership(
            IdentityStoreId=self.org.identity_store_id,
            GroupId=group_id,
            MemberId={"UserId": user_id},
        )

    def permission_set(self, name: str, **extra: Any) -> str:
        """Create permission set ``name``; its ARN."""
        return str(
            self.sso.create_permission_set(InstanceArn=self.org.instance_arn, Name=name, **extra)[
                "PermissionSet"
            ]["PermissionSetArn"]
        )
