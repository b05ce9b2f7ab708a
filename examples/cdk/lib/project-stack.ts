// A SageMaker project template, as a CDK stack: what an MLOps team's project needs to
// start (an artifact bucket, a model package group, a role for the pipelines, the seed
// code, a function that reports on the project) with SSM parameters naming them.
//
// Every resource type here is one sagestack serves: S3 buckets, model package groups,
// IAM roles and SSM parameters are real objects of the server; the Lambda function
// runs there (its code comes from the asset the CLI publishes to the bootstrap bucket).
import * as path from "path";
import * as cdk from "aws-cdk-lib";
import { Construct } from "constructs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as s3assets from "aws-cdk-lib/aws-s3-assets";
import * as sagemaker from "aws-cdk-lib/aws-sagemaker";
import * as ssm from "aws-cdk-lib/aws-ssm";

export class ProjectTemplateStack extends cdk.Stack {
  constructor(scope: Construct, id: string, props?: cdk.StackProps) {
    super(scope, id, props);

    // The parameters SageMaker passes to a project's template.
    const projectName = new cdk.CfnParameter(this, "SageMakerProjectName", {
      type: "String",
      default: "cdk-demo",
      allowedPattern: "^[a-zA-Z](-*[a-zA-Z0-9])*",
      maxLength: 32,
      description: "Name of the project",
    }).valueAsString;
    const projectId = new cdk.CfnParameter(this, "SageMakerProjectId", {
      type: "String",
      default: "p-cdkdemo00001",
      maxLength: 16,
      description: "Service generated id of the project",
    }).valueAsString;

    const artifacts = new s3.Bucket(this, "ArtifactBucket", {
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });

    const groupName = `${projectName}-${projectId}`;
    const models = new sagemaker.CfnModelPackageGroup(this, "ModelPackageGroup", {
      modelPackageGroupName: groupName,
      modelPackageGroupDescription: `Model versions of the SageMaker project ${projectName}`,
    });

    // The role the project's pipelines run as, allowed to use the artifact bucket.
    const pipelineRole = new iam.Role(this, "PipelineRole", {
      assumedBy: new iam.ServicePrincipal("sagemaker.amazonaws.com"),
      description: `Pipelines of the SageMaker project ${projectName}`,
    });
    artifacts.grantReadWrite(pipelineRole);

    // Seed code for the project's repository: a file asset, zipped and published by the
    // CDK CLI to the bootstrap stack's staging bucket.
    const seed = new s3assets.Asset(this, "SeedCode", {
      path: path.join(__dirname, "..", "..", "seed"),
    });
    seed.grantRead(pipelineRole);

    // A function whose code is an asset too: it reports the project's model package group.
    const status = new lambda.Function(this, "ProjectStatus", {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: "index.handler",
      code: lambda.Code.fromAsset(path.join(__dirname, "..", "..", "lambda")),
      timeout: cdk.Duration.seconds(10),
      environment: {
        MODEL_PACKAGE_GROUP: groupName,
        SEED_CODE_URL: seed.s3ObjectUrl,
      },
    });

    new ssm.StringParameter(this, "ArtifactBucketParameter", {
      parameterName: `/sagemaker/projects/${projectName}/artifact-bucket`,
      simpleName: false,
      stringValue: artifacts.bucketName,
      description: "The project's artifact bucket",
    });
    new ssm.StringParameter(this, "SeedCodeParameter", {
      parameterName: `/sagemaker/projects/${projectName}/seed-code`,
      simpleName: false,
      stringValue: seed.s3ObjectUrl,
    });

    new cdk.CfnOutput(this, "ArtifactBucketName", { value: artifacts.bucketName });
    new cdk.CfnOutput(this, "ModelPackageGroupName", { value: groupName });
    new cdk.CfnOutput(this, "ModelPackageGroupArn", { value: models.attrModelPackageGroupArn });
    new cdk.CfnOutput(this, "PipelineRoleArn", { value: pipelineRole.roleArn });
    new cdk.CfnOutput(this, "SeedCodeUrl", { value: seed.s3ObjectUrl });
    new cdk.CfnOutput(this, "FunctionName", { value: status.functionName });
  }
}
