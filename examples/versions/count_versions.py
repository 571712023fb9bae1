"""Invoke a function, a version or an alias N times and count which version ran each time, as Lambda's
answer says it (``ExecutedVersion``, the ``X-Amz-Executed-Version`` header):
``python examples/versions/count_versions.py GreeterLambda:live 100``. The endpoint comes from
``AWS_ENDPOINT_URL`` (the sandbox's banner), else boto3 calls AWS."""

import collections
import sys

import boto3


def main(argv: list[str]) -> int:
    target, count = argv[1], int(argv[2]) if len(argv) > 2 else 100
    lam = boto3.client("lambda")
    ran = collections.Counter(lam.invoke(FunctionName=target)["ExecutedVersion"] for _ in range(count))
    for version, times in sorted(ran.items()):
        print(f"version {version}: {times} of {count} ({times / count:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
