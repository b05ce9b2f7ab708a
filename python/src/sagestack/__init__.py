"""sagestack: a local AWS-compatible server (SageMaker Projects, CloudFormation, S3,
SSM, ...) in one binary, and a pytest plugin that runs it for a test session.

    from sagestack import Sagestack
    with Sagestack() as server:
        server.client("s3").create_bucket(Bucket="b")

The binary is the `sagestack` this package installed next to the interpreter (or
$SAGESTACK_BIN); the pytest fixtures are in `sagestack.pytest_plugin`."""
from importlib.metadata import PackageNotFoundError, version

from .server import Sagestack, SagestackError, find_binary, supports_ephemeral

try:
    __version__ = version("sagestack")
except PackageNotFoundError:  # imported from a source tree
    __version__ = "0+unknown"

__all__ = ["Sagestack", "SagestackError", "find_binary", "supports_ephemeral", "__version__"]
