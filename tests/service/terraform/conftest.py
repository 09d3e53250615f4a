"""The Terraform fixtures (service/terraform/tf_env.py)."""

from __future__ import annotations

from service.terraform.tf_env import s3_stack, terraform_binary, terraform_conn

__all__ = ["s3_stack", "terraform_binary", "terraform_conn"]
