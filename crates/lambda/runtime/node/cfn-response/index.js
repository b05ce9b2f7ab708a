// cfn-response for inline (ZipFile) Node.js code, with the interface AWS documents:
// send(event, context, responseStatus, responseData, physicalResourceId, noEcho) PUTs the
// custom-resource response to event.ResponseURL, then calls context.done().
// sagestack's own implementation (Node's standard library only).
"use strict";
const http = require("http");
const https = require("https");

exports.SUCCESS = "SUCCESS";
exports.FAILED = "FAILED";

exports.send = function send(event, context, responseStatus, responseData, physicalResourceId, noEcho) {
  return new Promise((resolve) => {
    const body = JSON.stringify({
      Status: responseStatus,
      Reason: "See the details in CloudWatch Log Stream: " + context.logStreamName,
      PhysicalResourceId: physicalResourceId || context.logStreamName,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
      NoEcho: noEcho || false,
      Data: responseData,
    });
    console.log("Response body:\n", body);
    const url = new URL(event.ResponseURL);
    const client = url.protocol === "https:" ? https : http;
    const request = client.request(
      url,
      { method: "PUT", headers: { "content-type": "", "content-length": Buffer.byteLength(body) } },
      (response) => {
        console.log("Status code: " + response.statusCode);
        response.resume();
        response.on("end", () => {
          resolve();
          context.done();
        });
      },
    );
    request.on("error", (error) => {
      console.log("send(..) failed executing https.request(..): " + error);
      resolve();
      context.done();
    });
    request.write(body);
    request.end();
  });
};
