# `terraform test` with a mocked AWS provider: no credentials, no network. Plans the module and
# checks what it would create (tests/deploy/test_terraform.py runs it where terraform is).

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "111122223333"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  image                        = "ghcr.io/example/identity-center-reconciler:0.1.0"
  cluster_arn                  = "arn:aws:ecs:eu-west-1:111122223333:cluster/tools"
  vpc_id                       = "vpc-0123456789abcdef0"
  subnet_ids                   = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  identity_center_instance_arn = "arn:aws:sso:::instance/ssoins-1111222233334444"
  identity_store_id            = "d-1234567890"
  repository                   = "https://github.com/example/access.git"
  slack_webhook_secret_arn     = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:slack-AbCdEf"
}

run "two_tasks_share_the_lease_table" {
  command = plan

  assert {
    condition     = aws_ecs_service.controller.desired_count == 2
    error_message = "two tasks"
  }
  assert {
    condition     = aws_dynamodb_table.lease.hash_key == "lock_name" && one(aws_dynamodb_table.lease.attribute).type == "S"
    error_message = "the lease table's key is lock_name, a string (reconciler/adapters/locking.py)"
  }
  assert {
    condition     = alltrue([for ttl in aws_dynamodb_table.lease.ttl : !ttl.enabled])
    error_message = "no TTL: the lease item is never deleted"
  }
  assert {
    condition = contains(
      jsondecode(aws_ecs_task_definition.controller.container_definitions)[0].environment,
      { name = "RECONCILER_LOCK", value = "dynamodb" }
    )
    error_message = "the tasks use the DynamoDB lease"
  }
  assert {
    condition = contains(
      jsondecode(aws_ecs_task_definition.controller.container_definitions)[0].environment,
      { name = "RECONCILER_LOCK_TABLE", value = "identity-center-reconciler-locks" }
    )
    error_message = "the tasks use the module's table"
  }
}

run "the_task_role_holds_the_generated_policies_scoped" {
  command = plan

  assert {
    condition     = jsondecode(aws_iam_role_policy.apply.policy) == jsondecode(templatefile("./policies/apply.json", { partition = "aws", instance_id = "ssoins-1111222233334444", identity_store_id = "d-1234567890" }))
    error_message = "the apply policy is policies/apply.json filled in"
  }
  assert {
    condition     = strcontains(aws_iam_role_policy.apply.policy, "arn:aws:sso:::permissionSet/ssoins-1111222233334444/*")
    error_message = "the apply policy is scoped to the instance's permission sets"
  }
  assert {
    condition     = strcontains(aws_iam_role_policy.lease.policy, "arn:aws:dynamodb:eu-west-1:111122223333:table/identity-center-reconciler-locks")
    error_message = "the lease policy names the table"
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.apply.policy, "$${")
    error_message = "no template variable is left unfilled"
  }
}

run "the_container_is_locked_down" {
  command = plan

  assert {
    condition     = jsondecode(aws_ecs_task_definition.controller.container_definitions)[0].readonlyRootFilesystem
    error_message = "read-only root file system"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.controller.container_definitions)[0].user == "10001:10001"
    error_message = "the image's non-root user"
  }
  assert {
    condition = contains(
      jsondecode(aws_ecs_task_definition.controller.container_definitions)[0].secrets,
      { name = "RECONCILER_SLACK_WEBHOOK_URL", valueFrom = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:slack-AbCdEf" }
    )
    error_message = "the Slack webhook comes from Secrets Manager"
  }
}

run "a_repository_is_required" {
  command = plan

  variables {
    repository = null
  }

  expect_failures = [aws_ecs_task_definition.controller]
}
