// The conformance scenarios' handler in JavaScript (lambda_function.py beside it is the same in Python).
const kept = [];

export const handler = async (event, context) => {
  const action = event.action;
  if (action === 'echo') {
    console.log(`echo ${event.value}`);
    return { value: event.value, requestId: context.awsRequestId, functionName: context.functionName,
      memory: context.memoryLimitInMB, remainingPositive: context.getRemainingTimeInMillis() > 0 };
  }
  if (action === 'raise') throw new Error('boom');
  if (action === 'sleep') {
    await new Promise((resolve) => setTimeout(resolve, event.seconds * 1000));
    return 'slept';
  }
  if (action === 'allocate') {
    kept.push(Buffer.alloc(event.mb * 1024 * 1024, 1));
    return 'allocated';
  }
  if (action === 'large') return 'x'.repeat(event.bytes);
  if (action === 'spin') { // use event.cpu_ms of CPU time, however long that takes under the CPU share
    const start = process.cpuUsage();
    let used = 0;
    while (used < event.cpu_ms * 1000) {
      const now = process.cpuUsage(start);
      used = now.user + now.system;
    }
    return 'spun';
  }
  if (action === 'client_context') return context.clientContext ?? null;
  return null;
};
