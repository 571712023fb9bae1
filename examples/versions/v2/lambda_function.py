"""The greeting, changed: what version 2 publishes."""

GREETING = "Bonjour"


def lambda_handler(event, context):
    # context.function_version: "$LATEST", or the number of the published version that runs
    return {"greeting": f"{GREETING}, {event.get('name', 'world')}!", "version": context.function_version}
