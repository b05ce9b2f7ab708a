// sagestack's Node.js runtime for Lambda functions: a Runtime API client run by the local
// `node`. It loads the handler named by _HANDLER from LAMBDA_TASK_ROOT (CommonJS or ES
// module), then loops: take the next invocation, call the handler (async, or with a
// callback), post its result or its error. After each invocation it prints the end marker
// the server waits for, so that an invocation's log is complete when it is answered.
"use strict";
const http = require("http");
const path = require("path");
const fs = require("fs");
const { pathToFileURL } = require("url");

const END_MARKER = "\x1eSAGESTACK-END ";
const [HOST, PORT] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const BASE = "/2018-06-01/runtime";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, route, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: HOST, port: PORT, method, path: BASE + route, agent, headers: headers || {} },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ res, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function errorDocument(error, type) {
  return {
    errorType: type || (error && error.name) || "Error",
    errorMessage: error && error.message !== undefined ? String(error.message) : String(error),
    trace: error && error.stack ? String(error.stack).split("\n") : [],
  };
}

async function loadHandler() {
  const spec = process.env._HANDLER || "";
  const dot = spec.lastIndexOf(".");
  if (dot < 1) {
    throw Object.assign(new Error(`Bad handler ${spec}`), { name: "Runtime.MalformedHandlerName" });
  }
  const moduleName = spec.slice(0, dot);
  const functionName = spec.slice(dot + 1);
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const base = path.resolve(root, moduleName);
  let mod;
  const mjs = [".mjs"].map((e) => base + e).find((f) => fs.existsSync(f));
  try {
    mod = mjs ? await import(pathToFileURL(mjs).href) : require(base);
  } catch (e) {
    if (e && e.code === "MODULE_NOT_FOUND" && String(e.message).includes(base)) {
      throw Object.assign(new Error(`Cannot find module '${moduleName}'`), {
        name: "Runtime.ImportModuleError",
      });
    }
    throw Object.assign(new Error(String(e && e.message)), {
      name: "Runtime.ImportModuleError",
      stack: e && e.stack,
    });
  }
  const handler = mod[functionName] || (mod.default && mod.default[functionName]);
  if (typeof handler !== "function") {
    throw Object.assign(new Error(`${moduleName}.${functionName} is undefined or not exported`), {
      name: "Runtime.HandlerNotFound",
    });
  }
  return handler;
}

function end(requestId) {
  process.stdout.write(END_MARKER + requestId + "\n");
}

async function invoke(handler, event, context) {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (err, result) => {
      if (settled) return;
      settled = true;
      resolve({ err, result });
    };
    context.done = finish;
    context.succeed = (r) => finish(null, r);
    context.fail = (e) => finish(e || new Error("handled"));
    try {
      const out = handler(event, context, finish);
      if (out && typeof out.then === "function") out.then((r) => finish(null, r), (e) => finish(e));
    } catch (e) {
      finish(e);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler();
  } catch (e) {
    const doc = errorDocument(e, e.name);
    console.error(`ERROR\t${doc.errorType}: ${doc.errorMessage}`);
    await new Promise((r) => process.stdout.write("", r));
    await call("POST", "/init/error", JSON.stringify(doc), {
      "Lambda-Runtime-Function-Error-Type": doc.errorType,
    });
    process.exit(1);
  }
  for (;;) {
    const { res, body } = await call("GET", "/invocation/next");
    const requestId = res.headers["lambda-runtime-aws-request-id"];
    lastRequestId = requestId;
    const deadline = Number(res.headers["lambda-runtime-deadline-ms"]);
    const context = {
      awsRequestId: requestId,
      invokedFunctionArn: res.headers["lambda-runtime-invoked-function-arn"],
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    };
    let event = null;
    try {
      event = body.length ? JSON.parse(body.toString("utf8")) : null;
    } catch (_) {
      event = body.toString("utf8");
    }
    const { err, result } = await invoke(handler, event, context);
    let route, payload, headers;
    if (err) {
      const doc = errorDocument(err);
      console.error(`${new Date().toISOString()}\t${requestId}\tERROR\tInvoke Error \t${JSON.stringify(doc)}`);
      route = `/invocation/${requestId}/error`;
      payload = JSON.stringify(doc);
      headers = { "Lambda-Runtime-Function-Error-Type": doc.errorType };
    } else {
      route = `/invocation/${requestId}/response`;
      payload = result === undefined ? "null" : JSON.stringify(result);
      headers = { "Content-Type": "application/json" };
    }
    await new Promise((r) => process.stderr.write("", r));
    await new Promise((r) => process.stdout.write("", r));
    end(requestId);
    await call("POST", route, payload, headers);
  }
}

const util = require("util");
// console.log lines carry the timestamp and request id, as in Lambda.
for (const level of ["log", "info", "warn", "error", "debug"]) {
  const original = console[level].bind(console);
  const tag = level === "log" ? "INFO" : level.toUpperCase();
  console[level] = (...args) => {
    original(`${new Date().toISOString()}\t${currentRequestId()}\t${tag}\t${util.format(...args)}`);
  };
}
let lastRequestId = "undefined";
function currentRequestId() {
  return lastRequestId;
}
main().catch((e) => {
  process.stderr.write(`runtime failure: ${e && e.stack}\n`);
  process.exit(1);
});
