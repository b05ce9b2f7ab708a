"""Running Terraform (hashicorp/aws) against a test server: the shared helper of the
tests/py/test_terraform_*.py and *_terraform.py tests (issue #22).

    tf = terraform_kit.Terraform(tmp_path / "tf", server.url)
    tf.write("main.tf", 'resource "aws_ssm_parameter" "p" { ... }')
    tf.init()
    tf.apply()
    tf.plan_no_changes()      # a second plan must find nothing to change
    tf.apply(var={"value": "2"})
    tf.destroy()

The working directory gets a terraformrc of its own (TF_CLI_CONFIG_FILE) whose
filesystem_mirror is the local provider mirror: SAGESTACK_TF_PLUGIN_MIRROR, else
/opt/tf-plugins (the folder holding registry.terraform.io/hashicorp/aws). Nothing is
downloaded. The provider block (provider.tf, written by the constructor) points every
service sagestack serves at the server, as a user would: only the endpoints change.

`require_terraform()` is what a test calls first: without terraform on PATH or without
the mirror the test is skipped with a message, except under CI=true, where that is a
failure. Set SAGESTACK_TF_LOG=1 to keep each command's TF_LOG=DEBUG log (the requests
the provider sent) in the working directory as tf-<command>.log.
"""
import contextlib
import json
import os
import shutil
import subprocess

import pytest

from conftest import ACCESS_KEY, REGION, Server

PROVIDER_VERSION = "5.100.0"

# The services sagestack serves, as the aws provider's `endpoints` block names them.
ENDPOINT_SERVICES = (
    "cloudformation", "codebuild", "codepipeline", "events", "iam", "lambda", "logs",
    "s3", "sagemaker", "servicecatalog", "ssm", "sts",
)


def plugin_mirror():
    return os.environ.get("SAGESTACK_TF_PLUGIN_MIRROR", "/opt/tf-plugins")


def require_terraform():
    """The terraform executable; skips the test (fails it under CI=true) when terraform
    or the provider mirror is missing."""
    exe = shutil.which("terraform")
    mirror = os.path.join(plugin_mirror(), "registry.terraform.io", "hashicorp", "aws")
    missing = None
    if exe is None:
        missing = "terraform is not on PATH"
    elif not os.path.isdir(mirror):
        missing = f"no hashicorp/aws provider mirror at {mirror} (set SAGESTACK_TF_PLUGIN_MIRROR)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} (required under CI=true)")
        pytest.skip(missing)
    return exe


def provider_block(endpoint_var="endpoint"):
    endpoints = "\n".join(f"    {s:<14} = var.{endpoint_var}" for s in ENDPOINT_SERVICES)
    return f"""terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws", version = "{PROVIDER_VERSION}" }}
  }}
}}
variable "{endpoint_var}" {{
  type = string
}}
provider "aws" {{
  region                      = "{REGION}"
  s3_use_path_style           = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = false
  skip_credentials_validation = false
  endpoints {{
{endpoints}
  }}
}}
"""


class TerraformError(AssertionError):
    """A terraform command exited with an unexpected status."""


class Terraform:
    """One Terraform working directory aimed at the server at `endpoint`."""

    def __init__(self, workdir, endpoint, timeout=600, access_key=ACCESS_KEY):
        self.exe = require_terraform()
        # The key pair Terraform signs with (any pair: the server runs --auth none).
        self.access_key = access_key
        self.dir = str(workdir)
        self.endpoint = endpoint
        self.timeout = timeout
        os.makedirs(self.dir, exist_ok=True)
        self.rc_file = os.path.join(self.dir, "terraformrc")
        with open(self.rc_file, "w") as f:
            f.write(f"""provider_installation {{
  filesystem_mirror {{
    path    = "{plugin_mirror()}"
    include = ["registry.terraform.io/hashicorp/aws"]
  }}
  direct {{
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }}
}}
""")
        self.write("provider.tf", provider_block())

    def write(self, name, text):
        """Writes (or replaces) a file of the configuration."""
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)

    def env(self, command):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "TF_"))}
        env.update({
            "TF_CLI_CONFIG_FILE": self.rc_file,
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "TF_VAR_endpoint": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": "dummy-secret",
            "AWS_REGION": REGION,
            # No profile or shared file of the machine's may change what is sent.
            "AWS_CONFIG_FILE": os.path.join(self.dir, "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.dir, "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        if os.environ.get("SAGESTACK_TF_LOG"):
            env["TF_LOG"] = "DEBUG"
            env["TF_LOG_PATH"] = os.path.join(self.dir, f"tf-{command}.log")
        return env

    def run(self, *args, ok=(0,), var=None):
        """Runs `terraform <args>`; the CompletedProcess. Raises TerraformError (with
        terraform's output) unless the exit status is one of `ok`."""
        cmd = [self.exe, *args]
        for k, v in (var or {}).items():
            cmd += ["-var", f"{k}={v}"]
        p = subprocess.run(cmd, cwd=self.dir, env=self.env(args[0]), capture_output=True,
                           text=True, timeout=self.timeout)
        if p.returncode not in ok:
            raise TerraformError(
                f"terraform {' '.join(args)} exited {p.returncode}\n"
                f"--- stdout ---\n{p.stdout[-8000:]}\n--- stderr ---\n{p.stderr[-8000:]}")
        return p

    def init(self):
        return self.run("init", "-input=false", "-no-color")

    def apply(self, var=None):
        return self.run("apply", "-auto-approve", "-input=false", "-no-color", var=var)

    def plan_no_changes(self, var=None):
        """`plan -detailed-exitcode` must exit 0: the state matches what the server reads."""
        p = self.run("plan", "-detailed-exitcode", "-input=false", "-no-color", ok=(0, 2),
                     var=var)
        if p.returncode == 2:
            raise TerraformError(f"plan found changes after apply:\n{p.stdout[-8000:]}")
        return p

    def destroy(self, var=None):
        return self.run("destroy", "-auto-approve", "-input=false", "-no-color", var=var)

    def state(self):
        """The state's resources by address (`type.name`): their attribute values."""
        p = self.run("show", "-json", "-no-color")
        values = json.loads(p.stdout).get("values") or {}
        resources = (values.get("root_module") or {}).get("resources", [])
        return {r["address"]: r["values"] for r in resources}

    def outputs(self):
        p = self.run("output", "-json", "-no-color")
        return {k: v["value"] for k, v in json.loads(p.stdout).items()}


@contextlib.contextmanager
def fresh(tmp_path_factory, name, files, **kwargs):
    """A fresh server and a Terraform working directory aimed at it holding `files`
    (name -> text), after `terraform init`: (Terraform, Server); the server stops after.
    `kwargs` go to `Terraform` (e.g. `access_key`)."""
    require_terraform()
    root = tmp_path_factory.mktemp(name)
    server = Server(str(root / "data")).start()
    try:
        work = Terraform(root / "tf", server.url, **kwargs)
        for file, text in files.items():
            work.write(file, text)
        work.init()
        yield work, server
    finally:
        server.stop()
