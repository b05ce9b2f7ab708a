"""cfnresponse for inline (ZipFile) Python code, with the interface AWS documents:
send(event, context, responseStatus, responseData, physicalResourceId=None,
noEcho=False, reason=None) PUTs the custom-resource response to event['ResponseURL'].
sagestack's own implementation (standard library only)."""
import json
import urllib.request

SUCCESS = "SUCCESS"
FAILED = "FAILED"


def send(event, context, responseStatus, responseData, physicalResourceId=None, noEcho=False,
         reason=None):
    stream = getattr(context, "log_stream_name", "")
    document = {
        "Status": responseStatus,
        "Reason": reason or f"See the details in CloudWatch Log Stream: {stream}",
        "PhysicalResourceId": physicalResourceId or stream,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": noEcho,
        "Data": responseData,
    }
    body = json.dumps(document).encode()
    print("Response body:")
    print(body.decode())
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                     headers={"Content-Type": "", "Content-Length": str(len(body))})
    try:
        with urllib.request.urlopen(request) as response:
            print("Status code:", response.status)
    except Exception as e:  # noqa: BLE001 - AWS's module logs and swallows send failures too
        print("send(..) failed executing http.request(..):", e)
