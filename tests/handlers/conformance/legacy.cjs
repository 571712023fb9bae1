// A .cjs module with a nested export and every console level.
module.exports.nested = {
  handler: async () => {
    console.error('an error line');
    console.warn('a warn line');
    console.debug('a debug line');
    console.trace('a trace line');
    console.info('multi\nline');
    return 'cjs';
  },
};
