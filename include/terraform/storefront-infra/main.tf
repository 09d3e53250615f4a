# The storefront's infrastructure, built from Terraform's built-in terraform_data resource so that it
# plans and applies offline (no provider to download). Each resource stands for what a real module
# would create with a cloud provider: swap terraform_data for aws_s3_bucket, aws_db_instance, ...
# and keep the variables and outputs: the stack spec and the DAGs stay the same.

terraform {
  required_version = ">= 1.4"
}

variable "environment" {
  type        = string
  description = "dev, staging or production"
}

variable "replicas" {
  type        = number
  default     = 1
  description = "database read replicas"
}

variable "database_engine" {
  type        = string
  default     = "postgres16"
  description = "changing the engine replaces the database"
}

variable "admin_password" {
  type        = string
  default     = ""
  sensitive   = true
  description = "set through the Terraform connection's sensitive_variables, never in the spec"
}

resource "terraform_data" "assets_bucket" {
  input = {
    name = "storefront-${var.environment}-assets"
  }
}

resource "terraform_data" "database" {
  input = {
    name     = "storefront_${var.environment}"
    replicas = var.replicas
    engine   = var.database_engine
  }
  triggers_replace = [var.database_engine]
}

resource "terraform_data" "cart_cache" {
  input = {
    name  = "cart-${var.environment}"
    nodes = var.environment == "production" ? 3 : 1
  }
}

output "bucket" {
  value = terraform_data.assets_bucket.output.name
}

output "database_name" {
  value = terraform_data.database.output.name
}

output "database_endpoint" {
  value = "${terraform_data.database.output.name}.db.${var.environment}.storefront.internal:5432"
}

output "cache_nodes" {
  value = terraform_data.cart_cache.output.nodes
}

# Known only after apply, like a generated password: never in XCom or a task log.
output "database_password" {
  value     = substr(sha256("${terraform_data.database.id}/password"), 0, 24)
  sensitive = true
}

output "admin_password" {
  value     = var.admin_password
  sensitive = true
}
