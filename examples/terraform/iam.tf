# The role Service Catalog launches the project template with, and what it may do.

resource "aws_iam_role" "launch" {
  name        = "${var.name}-launch"
  description = "Launches SageMaker project templates (${var.stage})"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "servicecatalog.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = { stage = var.stage }
}

resource "aws_iam_role_policy" "launch" {
  name = "read-templates"
  role = aws_iam_role.launch.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = "${aws_s3_bucket.templates.arn}/*"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "launch" {
  role       = aws_iam_role.launch.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
}
