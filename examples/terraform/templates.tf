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

# The bucket's configuration, as a platform team's baseline declares it.
resource "aws_s3_bucket_versioning" "templates" {
  bucket = aws_s3_bucket.templates.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "templates" {
  bucket = aws_s3_bucket.templates.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "templates" {
  bucket                  = aws_s3_bucket.templates.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "templates" {
  bucket = aws_s3_bucket.templates.id
  rule {
    id     = "old-template-versions"
    status = "Enabled"
    filter {
      prefix = ""
    }
    noncurrent_version_expiration {
      noncurrent_days = var.stage == "prod" ? 90 : 30
    }
  }
  depends_on = [aws_s3_bucket_versioning.templates]
}

resource "aws_s3_bucket_policy" "templates" {
  bucket = aws_s3_bucket.templates.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "LaunchRoleReadsTemplates"
      Effect    = "Allow"
      Principal = { AWS = aws_iam_role.launch.arn }
      Action    = "s3:GetObject"
      Resource  = "${aws_s3_bucket.templates.arn}/*"
    }]
  })
}
