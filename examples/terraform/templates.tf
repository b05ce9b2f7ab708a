# The project template lives in S3, as a SageMaker project template or a Service Catalog
# product's provisioning artifact names it.

resource "aws_s3_bucket" "templates" {
  bucket        = "${var.name}-templates"
  force_destroy = true
  tags          = { team = "ml-platform", stage = var.stage }
}

resource "aws_s3_object" "project_template" {
  bucket       = aws_s3_bucket.templates.id
  key          = "project-template.yaml"
  source       = "${path.module}/project-template.yaml"
  etag         = filemd5("${path.module}/project-template.yaml")
  content_type = "application/x-yaml"
}

resource "aws_ssm_parameter" "template_url" {
  name        = "/${var.name}/template-url"
  type        = "String"
  description = "Where the project template lives (${var.stage})"
  value       = "https://${aws_s3_bucket.templates.bucket}.s3.amazonaws.com/${aws_s3_object.project_template.key}"
  tags        = { stage = var.stage }
}

resource "aws_sagemaker_model_package_group" "models" {
  model_package_group_name        = "${var.name}-models"
  model_package_group_description = "Models of the ${var.name} team"
  tags                            = { stage = var.stage }
}
