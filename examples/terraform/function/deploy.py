"""The deploy step a model approval starts: EventBridge's "SageMaker Model Package State
Change" event for an approved version of the group arrives here (events.tf). A real
pipeline would start a deployment; this one logs what it would deploy, and where."""
import json
import os


def handler(event, context):
    detail = event.get("detail", {})
    decision = {
        "deploy": detail.get("ModelPackageArn"),
        "group": detail.get("ModelPackageGroupName"),
        "stage": os.environ.get("STAGE"),
    }
    print(json.dumps(decision))
    return decision
