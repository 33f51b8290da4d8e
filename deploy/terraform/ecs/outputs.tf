output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.controller.name
}

output "task_definition_arn" {
  description = "ARN of the task definition (with its revision)."
  value       = aws_ecs_task_definition.controller.arn
}

output "task_role_arn" {
  description = "The controller's role: the generated apply and lease policies. Use it to trust this role where needed (for example a delegated administrator's key policies)."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "ECS's role for starting the tasks (logs, secrets)."
  value       = aws_iam_role.execution.arn
}

output "lock_table_name" {
  description = "The DynamoDB lease table: set RECONCILER_LOCK=dynamodb and RECONCILER_LOCK_TABLE to it wherever `reconciler apply` runs beside the service."
  value       = aws_dynamodb_table.lease.name
}

output "lock_table_arn" {
  description = "ARN of the lease table (for `reconciler iam-policy --role lease` elsewhere)."
  value       = aws_dynamodb_table.lease.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the controller (one JSON line per event)."
  value       = aws_cloudwatch_log_group.controller.name
}

output "security_group_id" {
  description = "Security group of the tasks (egress HTTPS, SSH, DNS; no ingress)."
  value       = aws_security_group.tasks.id
}
