"""The same flows through the AWS CLI (`aws --endpoint-url ... sagemaker ...`)."""
import json

from conftest import make_client, wait_gone, wait_status


def test_cli_full_flow(aws, server):
    rc, out, err = aws("create-project", "--project-name", "cli-proj",
                       "--project-description", "from the cli",
                       "--service-catalog-provisioning-details",
                       "ProductId=prod-abc,ProvisioningArtifactId=pa-abc",
                       "--tags", "Key=team,Value=ml")
    assert rc == 0, err
    arn = out["ProjectArn"]
    assert out["ProjectId"].startswith("p-")

    rc, out, err = aws("describe-project", "--project-name", "cli-proj")
    assert rc == 0, err
    assert out["ProjectDescription"] == "from the cli"
    # No Service Catalog here: the project ends CreateFailed (and can then be updated).
    wait_status(make_client(server.url), "cli-proj", "CreateFailed")

    rc, out, err = aws("update-project", "--project-name", "cli-proj", "--project-description", "changed")
    assert rc == 0, err
    assert out["ProjectArn"] == arn

    rc, out, err = aws("list-projects")
    assert rc == 0, err
    assert [p["ProjectName"] for p in out["ProjectSummaryList"]] == ["cli-proj"]
    assert out["ProjectSummaryList"][0]["ProjectDescription"] == "changed"

    rc, out, err = aws("add-tags", "--resource-arn", arn, "--tags", "Key=env,Value=dev")
    assert rc == 0, err
    rc, out, err = aws("list-tags", "--resource-arn", arn)
    assert rc == 0, err
    assert out["Tags"] == [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "ml"}]
    rc, out, err = aws("delete-tags", "--resource-arn", arn, "--tag-keys", "team")
    assert rc == 0, err
    rc, out, err = aws("list-tags", "--resource-arn", arn)
    assert out["Tags"] == [{"Key": "env", "Value": "dev"}]

    rc, out, err = aws("delete-project", "--project-name", "cli-proj")
    assert rc == 0, err
    wait_gone(make_client(server.url), "cli-proj")
    rc, out, err = aws("list-projects")
    assert out["ProjectSummaryList"] == []


def test_cli_pages_with_next_token(aws):
    for i in range(12):
        rc, _, err = aws("create-project", "--project-name", f"page-{i:02d}",
                         "--service-catalog-provisioning-details", "ProductId=prod-abc")
        assert rc == 0, err
    names, token = [], None
    while True:
        args = ["list-projects", "--max-results", "5", "--sort-by", "Name", "--sort-order", "Ascending"]
        if token:
            args += ["--next-token", token]
        rc, out, err = aws(*args)
        assert rc == 0, err
        names += [p["ProjectName"] for p in out["ProjectSummaryList"]]
        token = out.get("NextToken")
        if not token:
            break
    assert names == [f"page-{i:02d}" for i in range(12)]


def test_cli_reports_errors(aws):
    rc, _, err = aws("describe-project", "--project-name", "nope")
    assert rc != 0
    assert "ValidationException" in err and "Project nope does not exist." in err
    rc, _, err = aws("list-projects", "--sort-by", "Size")
    assert rc != 0
    assert "ValidationException" in err
    assert "Member must satisfy enum value set: [Name, CreationTime]" in err
    rc, _, err = aws("create-project", "--project-name", "x",
                     "--template-providers", json.dumps([{"CfnTemplateProvider": {
                         "TemplateName": "t", "TemplateURL": "https://h/t.yaml"}}]),
                     "--service-catalog-provisioning-details", "ProductId=prod-abc")
    assert rc != 0 and "Exactly one of" in err
