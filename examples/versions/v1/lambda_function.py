"""The greeting, as version 1 freezes it: `publish-version` keeps this code while $LATEST moves on."""

GREETING = "Hello"


def lambda_handler(event, context):
    # context.function_version: "$LATEST", or the number of the published version that runs
    return {"greeting": f"{GREETING}, {event.get('name', 'world')}!", "version": context.function_version}
