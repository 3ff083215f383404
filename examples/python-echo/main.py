"""Relay's Python echo function: returns its input and where it ran.

A plain AWS Lambda handler; it runs unchanged on Relay.
"""

# Module state survives between warm invocations of the same version.
invocations = 0


def handler(event, context):
    global invocations
    invocations += 1
    print(f"echo: invocation {invocations} of {context.function_name}")
    return {
        "echo": event,
        "invocations": invocations,
        "executionId": context.aws_request_id,
        "rufid": context.rufid,
        "version": context.function_version,
        "branch": context.branch,
        "remainingMs": context.get_remaining_time_in_millis(),
    }
