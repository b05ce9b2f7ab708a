# Two CloudFormation stacks: one from an inline body, one from the template in S3.

resource "aws_cloudformation_stack" "inline" {
  name = "${var.name}-inline"
  parameters = {
    Stage = var.stage
  }
  template_body = jsonencode({
    Parameters = { Stage = { Type = "String" } }
    Resources = {
      Setting = {
        Type = "AWS::SSM::Parameter"
        Properties = {
          Name  = "/${var.name}/inline/stage"
          Type  = "String"
          Value = { Ref = "Stage" }
        }
      }
    }
    Outputs = { SettingName = { Value = { Ref = "Setting" } } }
  })
  tags = { stage = var.stage }
}

resource "aws_cloudformation_stack" "from_s3" {
  name         = "${var.name}-from-s3"
  template_url = "https://${aws_s3_bucket.templates.bucket}.s3.amazonaws.com/${aws_s3_object.project_template.key}"
  parameters = {
    SageMakerProjectName = "${var.name}-direct"
    SageMakerProjectId   = "p-direct0000001"
    Stage                = var.stage
  }
}
