"""sagestack's Python runtime for Lambda functions: a Runtime API client run by the local
interpreter. It imports the handler named by _HANDLER from LAMBDA_TASK_ROOT, then loops:
take the next invocation, call the handler, post its result or its error.

After each invocation (once the function's output is flushed) it prints the end marker
the server waits for, so that an invocation's log is complete when it is answered.
"""
import http.client
import json
import logging
import os
import sys
import time
import traceback

END_MARKER = "\x1eSAGESTACK-END "
API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"


class Client:
    """One keep-alive connection to the Runtime API."""

    def __init__(self):
        host, port = API.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port))

    def request(self, method, path, body=None, headers=None):
        self.conn.request(method, BASE + path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        return response, response.read()


class Context:
    """The `context` argument Lambda passes to handlers."""

    def __init__(self, request_id, deadline_ms, arn, client_context):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = json.loads(client_context) if client_context else None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.time() * 1000), 0)


class RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record):
        record.aws_request_id = RequestIdFilter.request_id
        return True


def setup_logging():
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S"))
    logging.Formatter.converter = time.gmtime
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)


def error_document(error_type, message, tb=None):
    return {"errorMessage": message, "errorType": error_type,
            "requestId": RequestIdFilter.request_id,
            "stackTrace": traceback.format_list(traceback.extract_tb(tb)) if tb else []}


def report(doc):
    print(f"[ERROR] {doc['errorType']}: {doc['errorMessage']}", flush=True)
    for line in doc.get("stackTrace") or []:
        print(line.rstrip(), flush=True)


def load_handler():
    spec = os.environ.get("_HANDLER", "")
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError:
        return None, error_document(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)")
    module_name = module_name.replace("/", ".")
    try:
        module = __import__(module_name, fromlist=["_"])
    except Exception as e:  # noqa: BLE001 - every import failure is reported to Lambda
        return None, error_document("Runtime.ImportModuleError",
                                    f"Unable to import module '{module_name}': {e}")
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, error_document("Runtime.HandlerNotFound",
                                    f"Handler '{function_name}' missing on module '{module_name}'")
    return handler, None


def end(request_id):
    sys.stdout.flush()
    sys.stderr.flush()
    sys.stdout.write(END_MARKER + request_id + "\n")
    sys.stdout.flush()


def main():
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    sys.path.insert(0, task_root)
    setup_logging()
    client = Client()
    handler, init_error = load_handler()
    if init_error:
        report(init_error)
        client.request("POST", "/init/error", json.dumps(init_error),
                       {"Lambda-Runtime-Function-Error-Type": init_error["errorType"]})
        sys.exit(1)
    while True:
        response, body = client.request("GET", "/invocation/next")
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        RequestIdFilter.request_id = request_id
        context = Context(request_id, int(response.getheader("Lambda-Runtime-Deadline-Ms")),
                          response.getheader("Lambda-Runtime-Invoked-Function-Arn"),
                          response.getheader("Lambda-Runtime-Client-Context"))
        try:
            event = json.loads(body) if body else None
            result = handler(event, context)
            try:
                payload = json.dumps(result)
            except (TypeError, ValueError) as e:
                raise MarshalError(f"Unable to marshal response: {e}") from None
        except MarshalError as e:
            doc = error_document("Runtime.MarshalError", str(e))
            report(doc)
            end(request_id)
            client.request("POST", f"/invocation/{request_id}/error", json.dumps(doc),
                           {"Lambda-Runtime-Function-Error-Type": doc["errorType"]})
            continue
        except Exception as e:  # noqa: BLE001 - the handler's error is the invocation's answer
            # The first frame is this loop's call of the handler: not the function's.
            doc = error_document(type(e).__name__, str(e), e.__traceback__.tb_next)
            report(doc)
            end(request_id)
            client.request("POST", f"/invocation/{request_id}/error", json.dumps(doc),
                           {"Lambda-Runtime-Function-Error-Type": doc["errorType"]})
            continue
        end(request_id)
        client.request("POST", f"/invocation/{request_id}/response", payload,
                       {"Content-Type": "application/json"})


class MarshalError(Exception):
    pass


if __name__ == "__main__":
    main()
