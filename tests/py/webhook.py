"""The handler side of a custom resource's webhook, shared by the tests that run one on
loopback (the ServiceToken, or `--custom-resource-webhook`, points at it): reading the
request document CloudFormation sends and answering with a response document.

Not a test module (pytest collects `test_*.py` only)."""
import json
from http.server import BaseHTTPRequestHandler


class CustomResourceHandler(BaseHTTPRequestHandler):
    """A subclass's `do_POST` reads the request with `read_request()` and answers with
    `respond()`."""

    def read_request(self):
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def respond(self, request, physical_id, fail=None, data=None):
        """Answers `request`: FAILED with `fail` as the reason when given, else SUCCESS
        with `data`; the physical id is the request's own (an update or delete) or
        `physical_id` (a create)."""
        response = {
            "Status": "FAILED" if fail else "SUCCESS",
            "PhysicalResourceId": request.get("PhysicalResourceId") or physical_id,
            "StackId": request["StackId"],
            "RequestId": request["RequestId"],
            "LogicalResourceId": request["LogicalResourceId"],
        }
        if fail:
            response["Reason"] = fail
        if data is not None:
            response["Data"] = data
        self.reply(json.dumps(response).encode())

    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass
