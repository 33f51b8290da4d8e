# An Identity Center organization in Terraform's AWS provider, pointed at the sandbox.
#
# Used by tests/sandbox/test_terraform.py (many concurrent identity-store writes) and to
# measure Terraform as a peer (calls and time of a plan). Every endpoint is the sandbox's
# loopback URL; credentials are the sandbox's dummy ones. Run with a CLI configuration that
# installs hashicorp/aws from a local filesystem mirror (no network), for example:
#   provider_installation { filesystem_mirror { path = "/opt/tf-plugins" } }

terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}

variable "endpoint" {
  type        = string
  description = "The sandbox's endpoint URL, http://127.0.0.1:<port>"
}
variable "instance_arn" { type = string }
variable "identity_store_id" { type = string }
variable "account_ids" {
  type        = list(string)
  default     = []
  description = "Member accounts that receive assignments"
}
variable "users" { default = 20 }
variable "groups" { default = 4 }
variable "permission_sets" { default = 0 }
variable "assignments_per_account" {
  default     = 0
  description = "Assignments in each account: (group i, permission set i), i < this number"
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    ssoadmin      = var.endpoint
    identitystore = var.endpoint
    organizations = var.endpoint
    sts           = var.endpoint
  }
}

resource "aws_identitystore_group" "group" {
  count             = var.groups
  identity_store_id = var.identity_store_id
  display_name      = "group-${count.index}"
}

resource "aws_identitystore_user" "user" {
  count             = var.users
  identity_store_id = var.identity_store_id
  user_name         = "user-${count.index}"
  display_name      = "User ${count.index}"
  name {
    given_name  = "User"
    family_name = "N${count.index}"
  }
}

resource "aws_identitystore_group_membership" "membership" {
  count             = var.groups > 0 ? var.users : 0
  identity_store_id = var.identity_store_id
  group_id          = aws_identitystore_group.group[count.index % var.groups].group_id
  member_id         = aws_identitystore_user.user[count.index].user_id
}

resource "aws_ssoadmin_permission_set" "set" {
  count            = var.permission_sets
  instance_arn     = var.instance_arn
  name             = "Set${count.index}"
  session_duration = "PT4H"
}

resource "aws_ssoadmin_managed_policy_attachment" "read_only" {
  count              = var.permission_sets
  instance_arn       = var.instance_arn
  permission_set_arn = aws_ssoadmin_permission_set.set[count.index].arn
  managed_policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}

locals {
  assignments = flatten([
    for account in var.account_ids : [
      for i in range(var.assignments_per_account) : { account = account, index = i }
    ]
  ])
}

resource "aws_ssoadmin_account_assignment" "assignment" {
  count              = length(local.assignments)
  instance_arn       = var.instance_arn
  permission_set_arn = aws_ssoadmin_permission_set.set[local.assignments[count.index].index % var.permission_sets].arn
  principal_id       = aws_identitystore_group.group[local.assignments[count.index].index % var.groups].group_id
  principal_type     = "GROUP"
  target_id          = local.assignments[count.index].account
  target_type        = "AWS_ACCOUNT"
  depends_on         = [aws_ssoadmin_managed_policy_attachment.read_only]
}
