# The model-approval loop: approving a version in the model package group emits
# SageMaker's state-change event; the rule matches it and runs the deploy function.
# function.zip holds function/deploy.py (the test suite checks that they agree):
#   python3 -c "import zipfile; zipfile.ZipFile('function.zip','w').write('function/deploy.py','deploy.py')"

resource "aws_iam_role" "deploy" {
  name = "${var.name}-deploy"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_cloudwatch_log_group" "deploy" {
  name              = "/aws/lambda/${var.name}-deploy"
  retention_in_days = var.stage == "prod" ? 30 : 7
  tags              = { stage = var.stage }
}

resource "aws_lambda_function" "deploy" {
  function_name    = "${var.name}-deploy"
  role             = aws_iam_role.deploy.arn
  runtime          = "python3.11"
  handler          = "deploy.handler"
  filename         = "${path.module}/function.zip"
  source_code_hash = filebase64sha256("${path.module}/function.zip")
  timeout          = 30
  environment {
    variables = { STAGE = var.stage }
  }
  tags       = { stage = var.stage }
  depends_on = [aws_cloudwatch_log_group.deploy]
}

resource "aws_cloudwatch_event_rule" "approved" {
  name        = "${var.name}-model-approved"
  description = "An approved model of ${var.name} deploys to ${var.stage}"
  event_pattern = jsonencode({
    source        = ["aws.sagemaker"]
    "detail-type" = ["SageMaker Model Package State Change"]
    detail = {
      ModelPackageGroupName = [aws_sagemaker_model_package_group.models.model_package_group_name]
      ModelApprovalStatus   = ["Approved"]
    }
  })
}

resource "aws_cloudwatch_event_target" "deploy" {
  rule = aws_cloudwatch_event_rule.approved.name
  arn  = aws_lambda_function.deploy.arn
}

resource "aws_lambda_permission" "events" {
  statement_id  = "AllowModelApprovedRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.deploy.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.approved.arn
}
