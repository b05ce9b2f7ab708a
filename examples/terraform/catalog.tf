# The template as a Service Catalog product in a portfolio, and a SageMaker project made
# from that product.

resource "aws_servicecatalog_portfolio" "ml" {
  name          = "${var.name}-portfolio"
  description   = "SageMaker project templates (${var.stage})"
  provider_name = "ml-platform"
  tags          = { stage = var.stage }
}

resource "aws_servicecatalog_product" "project" {
  name  = "${var.name}-project"
  owner = "ml-platform"
  type  = "CLOUD_FORMATION_TEMPLATE"
  tags  = { "sagemaker:studio-visibility" = "true", stage = var.stage }
  provisioning_artifact_parameters {
    name         = "v1"
    type         = "CLOUD_FORMATION_TEMPLATE"
    template_url = "https://${aws_s3_bucket.templates.bucket}.s3.amazonaws.com/${aws_s3_object.project_template.key}"
  }
}

resource "aws_servicecatalog_product_portfolio_association" "project" {
  portfolio_id = aws_servicecatalog_portfolio.ml.id
  product_id   = aws_servicecatalog_product.project.id
}

resource "aws_servicecatalog_constraint" "launch_role" {
  portfolio_id = aws_servicecatalog_portfolio.ml.id
  product_id   = aws_servicecatalog_product.project.id
  type         = "LAUNCH"
  description  = "Launch as ${aws_iam_role.launch.name}"
  parameters   = jsonencode({ RoleArn = aws_iam_role.launch.arn })
  depends_on   = [aws_servicecatalog_product_portfolio_association.project]
}

resource "aws_servicecatalog_principal_portfolio_association" "launch_role" {
  portfolio_id  = aws_servicecatalog_portfolio.ml.id
  principal_arn = aws_iam_role.launch.arn
}

data "aws_servicecatalog_provisioning_artifacts" "project" {
  product_id = aws_servicecatalog_product.project.id
}

resource "aws_sagemaker_project" "churn" {
  project_name        = "${var.name}-churn"
  project_description = "Churn model (${var.stage})"
  service_catalog_provisioning_details {
    product_id               = aws_servicecatalog_product.project.id
    provisioning_artifact_id = data.aws_servicecatalog_provisioning_artifacts.project.provisioning_artifact_details[0].id
    provisioning_parameter {
      key   = "Stage"
      value = var.stage
    }
  }
  tags       = { team = "churn" }
  depends_on = [aws_servicecatalog_product_portfolio_association.project]
}

output "portfolio_id" {
  value = aws_servicecatalog_portfolio.ml.id
}

output "product_id" {
  value = aws_servicecatalog_product.project.id
}

output "project_id" {
  value = aws_sagemaker_project.churn.project_id
}
