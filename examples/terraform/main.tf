# A SageMaker project template, its Service Catalog product and the resources around it,
# declared with the hashicorp/aws provider and applied to a local sagestack
# (README "Terraform"). Only the endpoints differ from a configuration for AWS.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}

variable "endpoint" {
  description = "The sagestack server every AWS service is sent to."
  type        = string
  default     = "http://127.0.0.1:4566"
}

variable "name" {
  description = "Prefix of every resource name (one server can hold several copies)."
  type        = string
  default     = "tf-demo"
}

variable "stage" {
  description = "A mutable attribute: change it and apply to update resources in place."
  type        = string
  default     = "dev"
}

provider "aws" {
  region            = "us-east-1"
  s3_use_path_style = true
  # No EC2 instance metadata here; the credentials are whatever the environment holds.
  skip_metadata_api_check = true
  endpoints {
    cloudformation = var.endpoint
    events         = var.endpoint
    iam            = var.endpoint
    lambda         = var.endpoint
    logs           = var.endpoint
    s3             = var.endpoint
    sagemaker      = var.endpoint
    servicecatalog = var.endpoint
    ssm            = var.endpoint
    sts            = var.endpoint
  }
}

data "aws_caller_identity" "me" {}
