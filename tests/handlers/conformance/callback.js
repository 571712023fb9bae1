// A callback handler (CommonJS): the response waits for the event loop to empty unless told not to.
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.waits !== false;
  setTimeout(() => console.warn('timer done'), 300);
  callback(null, { started: Date.now() });
};
