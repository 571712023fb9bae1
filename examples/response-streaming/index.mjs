// A function that streams its response: a resize-like job reports each step as it finishes, so the caller
// reads the progress while the function is still working. Node.js standard library only; `awslambda` is a
// global of AWS's Node.js runtime (and of the sandbox's).
//
// Through a function URL (InvokeMode RESPONSE_STREAM) the event is a payload 2.0 request: the response
// starts with its status and headers (HttpResponseStream.from), then the lines. Through
// InvokeWithResponseStream the event is any JSON ({"steps": 3}): the lines alone.

const STEPS = ['read the upload', 'decode the image', 'resize to half', 'encode as JPEG', 'write the copy'];
const PAUSE_MS = 400; // the work each step stands for

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  const viaUrl = Boolean(event?.requestContext?.http);
  const asked = Number((viaUrl ? event.queryStringParameters?.steps : event?.steps) ?? STEPS.length);
  const steps = Number.isInteger(asked) && asked > 0 ? Math.min(asked, STEPS.length) : STEPS.length;
  if (viaUrl) {
    responseStream = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: 200,
      headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Job-Id': context.awsRequestId },
    });
  } else {
    responseStream.setContentType('text/plain; charset=utf-8');
  }
  const started = Date.now();
  responseStream.write(`job ${context.awsRequestId}: ${steps} steps\n`);
  for (let step = 1; step <= steps; step += 1) {
    await sleep(PAUSE_MS);
    responseStream.write(`step ${step}/${steps}: ${STEPS[step - 1]} (${Date.now() - started} ms)\n`);
  }
  console.log(`streamed ${steps} steps in ${Date.now() - started} ms`);
  responseStream.end('done\n');
});
