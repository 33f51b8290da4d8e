# The reconciler's controller (`reconciler run`) as an ECS service on Fargate: two tasks sharing
# a DynamoDB lease (one writes, the other stands by), a task role with the generated least-
# privilege policies (policies/*.json, written by `python -m scripts.deploy_policies` from
# `reconciler iam-policy --role apply` and `--role lease`), logs in CloudWatch, secrets from
# Secrets Manager. docs/deploy.md walks through it.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # `name` on provider 5.x; `region` replaces it on 6.x.
  region          = data.aws_region.current.name
  lock_table_name = coalesce(var.lock_table_name, "${var.name}-locks")
  instance_id     = element(split("/", var.identity_center_instance_arn), 1)

  # What the controller writes (state file, Git cache, temporary files) is on the task's bind
  # mount of the image's VOLUME: the root file system stays read-only.
  data_path = "/var/lib/identity-center-reconciler"
  port      = 8080

  apply_policy = jsondecode(templatefile("${path.module}/policies/apply.json", {
    partition         = local.partition
    instance_id       = local.instance_id
    identity_store_id = var.identity_store_id
  }))
  lease_policy = jsondecode(templatefile("${path.module}/policies/lease.json", {
    partition  = local.partition
    region     = local.region
    account_id = local.account_id
    table_name = local.lock_table_name
  }))

  environment = merge(
    {
      RECONCILER_REF                        = var.ref
      RECONCILER_PATH                       = var.path
      RECONCILER_MODE                       = var.mode
      RECONCILER_INSTANCE_ARN               = var.identity_center_instance_arn
      RECONCILER_LISTEN                     = "0.0.0.0:${local.port}"
      RECONCILER_LOCK                       = "dynamodb"
      RECONCILER_LOCK_TABLE                 = local.lock_table_name
      RECONCILER_LOCK_LEASE_SECONDS         = "60"
      RECONCILER_LOCK_SAFETY_MARGIN_SECONDS = "35"
    },
    var.repository == null ? {} : { RECONCILER_REPOSITORY = var.repository },
    var.environment,
  )

  secrets = merge(
    var.repository_secret_arn == null ? {} : { RECONCILER_REPOSITORY = var.repository_secret_arn },
    var.slack_webhook_secret_arn == null ? {} : { RECONCILER_SLACK_WEBHOOK_URL = var.slack_webhook_secret_arn },
  )
}

# --- the lease --------------------------------------------------------------------------------

# The key reconciler/adapters/locking.py expects: partition key `lock_name`, a string, no sort
# key (`reconciler run` checks it at start). No TTL on `expires_at`: the item is never deleted,
# so its `generation` (the fencing token) only grows.
resource "aws_dynamodb_table" "lease" {
  name         = local.lock_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "lock_name"

  attribute {
    name = "lock_name"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  deletion_protection_enabled = true

  tags = var.tags
}

# --- logs -------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "controller" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

# --- roles ------------------------------------------------------------------------------------

data "aws_iam_policy_document" "tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

# The controller's own identity: what `reconciler iam-policy --role apply` and `--role lease`
# print, and nothing else.
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  description        = "identity-center-reconciler controller: reconciler iam-policy --role apply + lease"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "apply" {
  name   = "reconciler-apply"
  role   = aws_iam_role.task.id
  policy = jsonencode(local.apply_policy)
}

resource "aws_iam_role_policy" "lease" {
  name   = "reconciler-lease"
  role   = aws_iam_role.task.id
  policy = jsonencode(local.lease_policy)
}

# ECS's identity for starting the task: logs and the secrets, never the controller's calls.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  count = length(local.secrets) > 0 ? 1 : 0

  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = values(local.secrets)
  }

  dynamic "statement" {
    for_each = var.secrets_kms_key_arn == null ? [] : [var.secrets_kms_key_arn]
    content {
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  count = length(local.secrets) > 0 ? 1 : 0

  name   = "read-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets[0].json
}

# --- network ----------------------------------------------------------------------------------

# Out: HTTPS (AWS APIs, an https Git host, Slack), SSH (git@host: repositories) and DNS. In:
# nothing (the operations endpoint is for the container's health check; open port 8080 to your
# Prometheus with an extra rule on this group if it scrapes /metrics).
resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "identity-center-reconciler tasks: egress to HTTPS, SSH and DNS only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "tasks" {
  for_each = {
    https   = { protocol = "tcp", port = 443 }
    ssh     = { protocol = "tcp", port = 22 }
    dns_udp = { protocol = "udp", port = 53 }
    dns_tcp = { protocol = "tcp", port = 53 }
  }

  security_group_id = aws_security_group.tasks.id
  description       = each.key
  ip_protocol       = each.value.protocol
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = "0.0.0.0/0"
}

# --- the service ------------------------------------------------------------------------------

resource "aws_ecs_task_definition" "controller" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "data"
  }

  container_definitions = jsonencode([
    {
      name      = "reconciler"
      image     = var.image
      essential = true
      command   = ["run"]
      user      = "10001:10001"

      readonlyRootFilesystem = true
      linuxParameters = {
        capabilities       = { drop = ["ALL"] }
        initProcessEnabled = true
      }
      mountPoints = [
        { sourceVolume = "data", containerPath = local.data_path, readOnly = false }
      ]

      portMappings = [{ containerPort = local.port, protocol = "tcp", name = "http" }]

      environment = concat(
        [for key in sort(keys(local.environment)) : { name = key, value = local.environment[key] }],
        [
          # The Identity Center Region: the provider's (see variables.tf).
          { name = "AWS_REGION", value = local.region },
        ],
      )
      secrets = [for key in sort(keys(local.secrets)) : { name = key, valueFrom = local.secrets[key] }]

      # /healthz answers while the process serves (the image has Python, not curl).
      healthCheck = {
        command = [
          "CMD", "python", "-c",
          "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${local.port}/healthz', timeout=5)",
        ]
        interval    = 30
        timeout     = 10
        retries     = 3
        startPeriod = 60
      }

      # SIGTERM: the controller starts nothing new and polls what it sent; 120 s is Fargate's
      # maximum stop timeout (apply_poll_timeout_seconds may be longer: an interrupted apply
      # converges on the next pass).
      stopTimeout = 120

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.controller.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "controller"
        }
      }
    }
  ])

  tags = var.tags

  lifecycle {
    precondition {
      condition     = (var.repository == null) != (var.repository_secret_arn == null)
      error_message = "Give exactly one of repository (a URL without credentials) and repository_secret_arn (a secret holding the URL with its token)."
    }
  }
}

resource "aws_ecs_service" "controller" {
  name            = var.name
  cluster         = var.cluster_arn
  task_definition = aws_ecs_task_definition.controller.arn
  desired_count   = var.desired_count
  launch_type     = "FARGATE"

  # One task may stop while the other holds or takes the lease; never both at once.
  deployment_minimum_healthy_percent = 50
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = var.assign_public_ip
  }

  propagate_tags = "SERVICE"
  tags           = var.tags
}
