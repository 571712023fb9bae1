"""Read a function's streamed response with boto3's ``invoke_with_response_stream``, printing each chunk as
it arrives with the seconds since the call. The endpoint comes from ``AWS_ENDPOINT_URL`` (unset: AWS).

    python examples/response-streaming/read_stream.py StreamingProgressLambda [STEPS]
"""

import json
import sys
import time

import boto3


def main(function_name: str, steps: int) -> int:
    started = time.monotonic()
    response = boto3.client("lambda").invoke_with_response_stream(
        FunctionName=function_name, Payload=json.dumps({"steps": steps}).encode()
    )
    for event in response["EventStream"]:
        elapsed = time.monotonic() - started
        if "PayloadChunk" in event:
            text = event["PayloadChunk"]["Payload"].decode("utf-8", errors="replace")
            print(f"{elapsed:6.2f} s  chunk: {text.rstrip()}", flush=True)
        elif "InvokeComplete" in event:
            complete = event["InvokeComplete"]
            error = complete.get("ErrorCode")
            print(f"{elapsed:6.2f} s  complete: {'error ' + error if error else 'ok'}", flush=True)
            if error:
                print(complete.get("ErrorDetails", ""), file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5))
