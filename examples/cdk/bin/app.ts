#!/usr/bin/env node
// The CDK app: one SageMaker project template stack, in the account and region the
// CDK CLI resolves from the environment (against sagestack: its --account-id, through
// AWS_ENDPOINT_URL).
import * as cdk from "aws-cdk-lib";
import { ProjectTemplateStack } from "../lib/project-stack";

const app = new cdk.App();
new ProjectTemplateStack(app, "SagestackCdkExample", {
  env: {
    account: process.env.CDK_DEFAULT_ACCOUNT,
    region: process.env.CDK_DEFAULT_REGION,
  },
  description: "A SageMaker project template deployed with the AWS CDK against sagestack",
});
// On the stack and every resource that takes tags.
cdk.Tags.of(app).add("team", "ml-platform");
