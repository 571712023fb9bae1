// The Node.js runtime inside one execution environment: a standard-library-only twin of AWS's
// Node runtime interface client (aws-lambda-nodejs-runtime-interface-client).
//
// INIT loads the handler named by _HANDLER ("file.export", CommonJS or ES module) from the task root;
// a failure is posted to /runtime/init/error as Runtime.ImportModuleError, Runtime.HandlerNotFound or
// Runtime.UserCodeSyntaxError. Then: GET /invocation/next -> handler(event, context, callback) -> POST
// /invocation/{id}/response or /error. console.* writes "<ISO time>\t<request id>\t<LEVEL>\t<message>"
// (or JSON with AWS_LAMBDA_LOG_FORMAT=JSON), a multi-line message kept as one event ("\n" -> "\r").
// As the Python bootstrap does, it writes a marker line before each response so the sandbox knows it has
// read every line of the invocation; the sandbox removes the marker.
// Response streaming as AWS's Node runtime has it: the global awslambda.streamifyResponse marks a handler
// that gets a writable responseStream; its response is posted with Lambda-Runtime-Function-Response-Mode:
// streaming and chunked encoding as it is written, an error part-way through in the trailers
// Lambda-Runtime-Function-Error-Type / -Error-Body (base64 JSON). awslambda.HttpResponseStream.from writes
// a function URL's JSON prelude and 8 NUL bytes before the body (application/vnd.awslambda.http-integration-response).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import util from 'node:util';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const MARKER = '\x1f\x1fSANDBOX:';
const API_PATH = '/2018-06-01/runtime';
const [HOST, PORT] = (process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001').split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');

function emitMarker(tag) {
  process.stdout.write(`\n${MARKER}${tag}\n`);
}

function request(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port: Number(PORT), method, path: API_PATH + urlPath, agent,
      headers: body === undefined ? headers : { ...headers, 'Content-Length': Buffer.byteLength(body) } },
    (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('socket', (socket) => socket.setNoDelay(true));
    req.on('error', reject);
    req.end(body);
  });
}

// -- response streaming ----------------------------------------------------------------------------------
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HIGH_WATER_MARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';

class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(HTTP_INTEGRATION);
    const metadata = JSON.stringify(prelude); // JSON never holds a NUL byte: the delimiter stays unique
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(new Uint8Array(8));
    };
    return underlyingStream;
  }
}

globalThis.awslambda = {
  streamifyResponse(handler, options) {
    handler[STREAMING] = 'response';
    if (options?.highWaterMark) handler[HIGH_WATER_MARK] = Number(options.highWaterMark);
    return handler;
  },
  HttpResponseStream,
};

function createResponseStream(id) {
  // The request is the stream the handler writes to, as in AWS's runtime: each write is a chunk on its way.
  let firstWrite = true;
  let failed = false;
  const req = http.request({ host: HOST, port: Number(PORT), method: 'POST', agent,
    path: `${API_PATH}/invocation/${id}/response`,
    headers: { 'Lambda-Runtime-Function-Response-Mode': 'streaming', 'Transfer-Encoding': 'chunked',
      Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
      'Content-Type': 'application/octet-stream' } });
  req.on('socket', (socket) => socket.setNoDelay(true));
  const done = new Promise((resolve) => {
    req.on('response', (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', resolve);
  });
  req.setContentType = (contentType) => {
    if (!firstWrite) throw Object.assign(new Error('Cannot set content-type, too late.'),
      { name: 'Runtime.InvalidStreamingOperation' });
    req.setHeader('Content-Type', contentType);
  };
  const write = req.write.bind(req);
  req.write = (chunk, encoding, callback) => {
    if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk) && !(chunk instanceof Uint8Array)) {
      chunk = JSON.stringify(chunk);
    }
    if (firstWrite && typeof req._onBeforeFirstWrite === 'function') req._onBeforeFirstWrite((c) => write(c));
    firstWrite = false;
    return write(chunk, encoding, callback);
  };
  const end = req.end.bind(req);
  req.end = (...args) => {
    if (typeof args[0] !== 'function' && args[0] !== undefined && args[0] !== null) {
      req.write(args.shift(), typeof args[0] === 'string' ? args.shift() : undefined);
    }
    if (!req.writableEnded) emitMarker(`end:${id}`);
    return end(...args);
  };
  const fail = (error) => {
    if (failed || req.writableEnded) return;
    failed = true;
    logError('Invoke Error', error);
    const response = toResponse(error);
    req.addTrailers({ 'Lambda-Runtime-Function-Error-Type': response.errorType,
      'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(response)).toString('base64') });
    req.end();
  };
  return { stream: req, done, fail };
}

async function invokeStreaming(id, event, headers) {
  const { stream, done, fail } = createResponseStream(id);
  let waits = true;
  const context = buildContext(headers, {
    get callbackWaitsForEmptyEventLoop() { return waits; },
    set callbackWaitsForEmptyEventLoop(value) { waits = value; },
  });
  errorTarget = fail;
  beforeExit = () => fail(new Error('Response stream is not finished.'));
  try {
    const result = handler(event, stream, context);
    if (!result || typeof result.then !== 'function') {
      fail('Streaming does not support non-async handlers.');
    } else {
      const value = await result;
      if (value !== undefined) console.warn('Streaming handlers ignore return values.');
      if (!stream.writableEnded) fail('Response stream is not finished.');
    }
  } catch (error) {
    fail(error ?? 'handled');
  }
  await done;
  beforeExit = null;
  errorTarget = null;
}

// -- errors, shaped as the Node runtime shapes them --------------------------------------------------
class RuntimeError extends Error {}
const runtimeErrors = {};
for (const name of ['ImportModuleError', 'HandlerNotFound', 'MalformedHandlerName', 'UserCodeSyntaxError',
  'UnhandledPromiseRejection']) {
  runtimeErrors[name] = class extends RuntimeError {};
  runtimeErrors[name].prototype.name = `Runtime.${name}`;
}

function isError(value) {
  return util.types.isNativeError(value) || (value && typeof value.name === 'string'
    && typeof value.message === 'string' && typeof value.stack === 'string');
}

function toResponse(error) {
  try {
    if (isError(error)) {
      return { errorType: error.name, errorMessage: error.message, trace: error.stack.split('\n') };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return { errorType: 'handled', errorMessage: 'callback called with Error argument, but there was a '
      + 'problem while retrieving one or more of its message, name, and stack' };
  }
}

function formatted(error) {
  // "\t" + the error as JSON with its name, message, code and stack, as the Node runtime logs it.
  const withFields = (_key, value) => {
    if (!(value instanceof Error)) return value;
    const out = { errorType: value.name, errorMessage: value.message, code: value.code, ...value };
    if (typeof value.stack === 'string') out.stack = value.stack.split('\n');
    return out;
  };
  try {
    return '\t' + JSON.stringify(error, withFields);
  } catch {
    return '\t' + JSON.stringify(toResponse(error));
  }
}

// -- logging -------------------------------------------------------------------------------------------
const LEVELS = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };
const JSON_FORMAT = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';

function errorFields(value) {
  return { errorType: value?.constructor?.name ?? 'UnknownError', errorMessage: value.message,
    stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack };
}

function jsonLine(level, params) {
  const record = { timestamp: new Date().toISOString(), level, requestId: globalThis[REQUEST_ID] };
  if (params.length === 1) {
    record.message = params[0];
    try {
      return JSON.stringify(record, (_k, v) => (v instanceof Error ? { ...errorFields(v), ...v } : v));
    } catch {
      record.message = util.format(record.message);
      return JSON.stringify(record);
    }
  }
  record.message = util.format(...params);
  const error = params.find((p) => p instanceof Error);
  if (error) Object.assign(record, errorFields(error));
  return JSON.stringify(record);
}

function log(level, params) {
  const line = JSON_FORMAT ? jsonLine(level, params)
    : `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level}\t${util.format(...params)}`;
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function patchConsole() {
  const threshold = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? LEVELS.TRACE;
  const nop = () => {};
  const make = (level) => (LEVELS[level] >= threshold ? (...params) => log(level, params) : nop);
  console.trace = make('TRACE');
  console.debug = make('DEBUG');
  console.info = make('INFO');
  console.log = console.info;
  console.warn = make('WARN');
  console.error = make('ERROR');
  console.fatal = (...params) => log('FATAL', params);
}

function logError(label, error) {
  const err = error instanceof Error ? error : new Error(error);
  if (JSON_FORMAT) console.error(err);
  else console.error(label, formatted(err));
}

// -- loading the handler --------------------------------------------------------------------------------
function typeModule(folder) {
  // The nearest package.json says "type": "module" (a node_modules folder ends the search).
  for (let dir = folder; ; dir = path.dirname(dir)) {
    if (dir.endsWith(`${path.sep}node_modules`)) return false;
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      try {
        return JSON.parse(fs.readFileSync(file, 'utf8')).type === 'module';
      } catch {
        return false;
      }
    }
    if (path.dirname(dir) === dir) return false;
  }
}

async function loadModule(taskRoot, moduleRoot, moduleName) {
  const base = path.resolve(taskRoot, moduleRoot, moduleName);
  const require = createRequire(path.join(taskRoot, 'index.js'));
  const tryRequire = (file) => (fs.existsSync(file) ? require(file) : undefined);
  const tryImport = async (file) => (fs.existsSync(file) ? import(pathToFileURL(file).href) : undefined);
  const esm = typeModule(path.dirname(base));
  const loaded = tryRequire(base) || (!esm && tryRequire(base + '.js'))
    || (esm && await tryImport(base + '.js')) || await tryImport(base + '.mjs') || tryRequire(base + '.cjs');
  if (loaded) return loaded;
  return require(require.resolve(moduleName, { paths: [taskRoot, moduleRoot] }));
}

async function loadHandler(taskRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new runtimeErrors.MalformedHandlerName(`'${fullHandler}' is not a valid handler name. Use absolute `
      + 'paths when specifying root directories in handler names.');
  }
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerString));
  const match = handlerString.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new runtimeErrors.MalformedHandlerName('Bad handler');
  let app;
  try {
    app = await loadModule(taskRoot, moduleRoot, match[1]);
  } catch (e) {
    if (e instanceof SyntaxError) throw new runtimeErrors.UserCodeSyntaxError(e);
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new runtimeErrors.ImportModuleError(e);
    }
    throw e;
  }
  const handler = match[2].split('.').reduce((obj, key) => obj && obj[key], app);
  if (!handler) throw new runtimeErrors.HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof handler !== 'function') {
    throw new runtimeErrors.HandlerNotFound(`${fullHandler} is not a function`);
  }
  return handler;
}

// -- one invocation -------------------------------------------------------------------------------------
let beforeExit = null; // what to do when the event loop is empty (callbackWaitsForEmptyEventLoop)
process.on('beforeExit', () => {
  const action = beforeExit;
  beforeExit = null;
  if (action) action();
});

function buildContext(headers, callbackContext) {
  const deadline = Number(headers['lambda-runtime-deadline-ms'] || 0);
  const parse = (value) => (value ? JSON.parse(value) : undefined);
  const identity = parse(headers['lambda-runtime-cognito-identity']);
  return Object.assign(callbackContext, {
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parse(headers['lambda-runtime-client-context']),
    identity: identity && { cognitoIdentityId: identity.cognitoIdentityId,
      cognitoIdentityPoolId: identity.cognitoIdentityPoolId },
    getRemainingTimeInMillis: () => Math.max(debugDeadline(headers['lambda-runtime-aws-request-id'], deadline)
      - Date.now(), 0),
  });
}

let handler;
let isAsyncHandler = false;
let errorTarget = null; // the request an uncaught exception fails

async function postResult(id, result) {
  let body;
  try {
    body = JSON.stringify(result === undefined ? null : result);
  } catch (e) {
    return postError(id, Object.assign(new Error(`Unable to stringify response body: ${e.message}`),
      { name: 'Runtime.MarshalError' }));
  }
  emitMarker(`end:${id}`);
  await request('POST', `/invocation/${id}/response`, body, { 'Content-Type': 'application/json' });
}

async function postError(id, error) {
  const response = toResponse(error);
  emitMarker(`end:${id}`);
  await request('POST', `/invocation/${id}/error`, JSON.stringify(response),
    { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': response.errorType });
}

function invokeOnce(id, event, headers) {
  return new Promise((resolve) => {
    let finished = false;
    let waits = true;
    const finish = (err, result) => {
      if (finished) return;
      finished = true;
      beforeExit = null;
      errorTarget = null;
      if (err !== undefined && err !== null) {
        logError('Invoke Error', err);
        postError(id, err).then(resolve, resolve);
      } else {
        postResult(id, result).then(resolve, resolve);
      }
    };
    const callback = (err, result) => {
      if (finished) return;
      if ((err !== undefined && err !== null) || !waits) return finish(err, result);
      // As on AWS: the response is sent once the event loop is empty.
      beforeExit = () => setImmediate(() => finish(null, result));
    };
    const callbackContext = {
      get callbackWaitsForEmptyEventLoop() { return waits; },
      set callbackWaitsForEmptyEventLoop(value) { waits = value; },
      succeed: (result) => finish(null, result),
      fail: (err) => finish(err === undefined || err === null ? 'handled' : err),
      done: (err, result) => finish(err, result),
    };
    errorTarget = (err) => finish(err);
    // A handler that neither returns a promise nor calls back: when the loop empties, AWS responds with
    // null for a plain function and fails an async one.
    beforeExit = () => (isAsyncHandler
      ? finish(Object.assign(new Error('The Lambda runtime exited without providing a reason'),
        { name: 'Runtime.NodeJsExit' }))
      : finish(null, null));
    try {
      const result = handler(event, buildContext(headers, callbackContext), callback);
      if (result && typeof result.then === 'function') {
        result.then((value) => finish(null, value), (err) => finish(err ?? 'handled'));
      }
    } catch (err) {
      finish(err);
    }
  });
}

// -- run_local.py --debug ----------------------------------------------------------------------------------
// Node's inspector on a private loopback port; the marker tells the sandbox which (its relay on the public
// port forwards the editor to it). "wait": until the editor has set its breakpoints and sends
// Runtime.runIfWaitingForDebugger; "reconnect": the same, the sandbox sending it if no editor comes back.
const INSPECT = process.env.SANDBOX_NODE_INSPECT;
const DEBUG_CLOCK = process.env.SANDBOX_DEBUG_CLOCK;
delete process.env.SANDBOX_NODE_INSPECT;
delete process.env.SANDBOX_DEBUG_CLOCK;

async function startInspector() {
  if (!INSPECT) return;
  const inspector = await import('node:inspector');
  inspector.open(0, '127.0.0.1', false);
  emitMarker(`inspector:${inspector.url()}`);
  if (INSPECT === 'wait' || INSPECT === 'reconnect') inspector.waitForDebugger();
  emitMarker('inspector-ready');
}

function debugDeadline(requestId, deadline) {
  // The deadline, later by the time the debugger held this invocation (the sandbox writes it).
  if (!DEBUG_CLOCK) return deadline;
  try {
    const [heldRequest, moved] = fs.readFileSync(DEBUG_CLOCK, 'utf8').split(' ');
    return heldRequest === requestId ? Number(moved) : deadline;
  } catch {
    return deadline;
  }
}

async function main() {
  patchConsole();
  await startInspector();
  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  try {
    handler = await loadHandler(taskRoot, process.env._HANDLER || '');
    isAsyncHandler = handler.constructor?.name === 'AsyncFunction';
  } catch (error) {
    logError('Uncaught Exception', error);
    emitMarker('init');
    const response = toResponse(error);
    await request('POST', '/init/error', JSON.stringify(response),
      { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': response.errorType });
    process.exit(129);
  }
  emitMarker('init');
  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    if (errorTarget) errorTarget(error);
    setTimeout(() => process.exit(129), 50);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new runtimeErrors.UnhandledPromiseRejection(reason?.toString(), promise);
    logError('Unhandled Promise Rejection', error);
    if (errorTarget) errorTarget(error);
    setTimeout(() => process.exit(128), 50);
  });
  for (;;) {
    const next = await request('GET', '/invocation/next');
    const id = next.headers['lambda-runtime-aws-request-id'];
    globalThis[REQUEST_ID] = id;
    const traceId = next.headers['lambda-runtime-trace-id'];
    if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
    else delete process.env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = JSON.parse(next.body || '{}');
    } catch (error) {
      await postError(id, error);
      continue;
    }
    if (handler[STREAMING] === 'response') await invokeStreaming(id, event, next.headers);
    else await invokeOnce(id, event, next.headers);
  }
}

main();
