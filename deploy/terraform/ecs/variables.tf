# Deploy this module with an AWS provider in the Identity Center Region (the instance's home
# Region): the task calls sso-admin, identitystore and the lease table in the provider's Region
# (AWS_REGION), and the table is created there.

variable "name" {
  description = "Name of the service, task family, roles, log group and (by default) lease table."
  type        = string
  default     = "identity-center-reconciler"
}

variable "image" {
  description = "The reconciler's image, pinned: ghcr.io/OWNER/identity-center-reconciler:0.1.0 (or @sha256:...)."
  type        = string
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster to run the service in."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the tasks: private subnets with a route to the AWS APIs, the Git host and Slack (a NAT gateway, or VPC endpoints for the AWS APIs)."
  type        = list(string)
}

variable "vpc_id" {
  description = "VPC of the subnets, for the tasks' security group."
  type        = string
}

variable "assign_public_ip" {
  description = "Give each task a public IP (only in public subnets without a NAT gateway)."
  type        = bool
  default     = false
}

variable "identity_center_instance_arn" {
  description = "The Identity Center instance (arn:aws:sso:::instance/ssoins-...): the task role's policy is scoped to it, and the controller uses it (RECONCILER_INSTANCE_ARN)."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$", var.identity_center_instance_arn))
    error_message = "identity_center_instance_arn must look like arn:aws:sso:::instance/ssoins-1111222233334444."
  }
}

variable "identity_store_id" {
  description = "The instance's identity store (d-1234567890): the task role's policy is scoped to it."
  type        = string

  validation {
    condition     = can(regex("^d-[0-9a-f]{10}$|^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$", var.identity_store_id))
    error_message = "identity_store_id must look like d-1234567890."
  }
}

variable "repository" {
  description = "The desired-state repository (RECONCILER_REPOSITORY), without credentials: https://github.com/org/access.git. Leave null and set repository_secret_arn when the URL carries a token."
  type        = string
  default     = null
}

variable "repository_secret_arn" {
  description = "ARN of a Secrets Manager secret whose value is the repository URL with its credentials (https://x-access-token:TOKEN@github.com/org/access.git), given as RECONCILER_REPOSITORY; never logged by the reconciler."
  type        = string
  default     = null
}

variable "ref" {
  description = "Branch, tag or commit to follow (RECONCILER_REF)."
  type        = string
  default     = "main"
}

variable "path" {
  description = "Folder of the desired state in the repository (RECONCILER_PATH)."
  type        = string
  default     = "desired-state"
}

variable "mode" {
  description = "heal (apply and heal drift) or detect (report only) (RECONCILER_MODE)."
  type        = string
  default     = "heal"

  validation {
    condition     = contains(["heal", "detect"], var.mode)
    error_message = "mode must be heal or detect."
  }
}

variable "slack_webhook_secret_arn" {
  description = "ARN of a Secrets Manager secret holding the Slack incoming webhook URL (RECONCILER_SLACK_WEBHOOK_URL); null: no Slack summaries."
  type        = string
  default     = null
}

variable "secrets_kms_key_arn" {
  description = "KMS key of the secrets when it is a customer managed key (the execution role may then decrypt with it); null: the AWS managed key."
  type        = string
  default     = null
}

variable "desired_count" {
  description = "Number of tasks. Two with the DynamoDB lease: one writes, the other stands by."
  type        = number
  default     = 2
}

variable "lock_table_name" {
  description = "Name of the DynamoDB lease table (partition key lock_name, a string); null: \"<name>-locks\"."
  type        = string
  default     = null
}

variable "environment" {
  description = "More settings of the controller: RECONCILER_* variables (docs/controller.md), e.g. {RECONCILER_INTERVAL_SECONDS = \"600\"}. Values here win over the module's."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.environment) : can(regex("^RECONCILER_[A-Z_]+$", key))])
    error_message = "environment holds RECONCILER_* settings only (AWS is configured by the task role and the Region)."
  }
}

variable "cpu" {
  description = "Task CPU units (256 = 0.25 vCPU)."
  type        = number
  default     = 512
}

variable "memory" {
  description = "Task memory in MiB."
  type        = number
  default     = 1024
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 (the published image has both)."
  type        = string
  default     = "X86_64"
}

variable "log_retention_days" {
  description = "How long CloudWatch Logs keeps the controller's logs."
  type        = number
  default     = 90
}

variable "log_kms_key_arn" {
  description = "KMS key to encrypt the log group with; null: CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
