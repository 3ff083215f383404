// Relay's Node.js echo function: returns its input and where it ran.
// A plain AWS Lambda handler; it runs unchanged on Relay.

// Module state survives between warm invocations of the same version.
let invocations = 0;

export async function handler(event, context) {
  invocations += 1;
  console.log(`echo: invocation ${invocations} of ${context.functionName}`);
  return {
    echo: event,
    invocations,
    executionId: context.awsRequestId,
    rufid: context.rufid,
    version: context.functionVersion,
    branch: context.branch,
    remainingMs: context.getRemainingTimeInMillis(),
  };
}
