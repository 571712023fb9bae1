"""``--example node-resize``: the guide's resize in JavaScript (examples/node-resize/, sharp and the AWS SDK
v3 from its own node_modules) on the nodejs22.x runtime, triggered by uploads to its own bucket. Set up with
the calls its README shows for AWS: create-function, add-permission, put-bucket-notification-configuration."""

from __future__ import annotations

from sandbox.errors import ConfigError
from sandbox.guide.example_setups import EXAMPLES_DIR, Example, allow_invoke, package
from sandbox.lambda_.runtimes import local_node_version, node_binary

FOLDER = EXAMPLES_DIR / "node-resize"
BUCKET = "node-image-bucket123"
FUNCTION = "NodeImageResizeLambda"
RUNTIME = "nodejs22.x"
NEEDED_MODULES = ("sharp", "@aws-sdk/client-s3")


class ExampleUnavailable(ConfigError):
    """What this machine lacks to run the example (with `--example all` it is noted, not fatal)."""

    skippable = True


def missing() -> str | None:
    """Why the example cannot run here, or None."""
    if node_binary() is None:
        return (
            "the node-resize example needs Node.js: no `node` on PATH (install Node.js 20 or newer, "
            "e.g. `apt-get install nodejs npm`, then run `npm install` in examples/node-resize)"
        )
    version = local_node_version() or "v0"
    if int(version.lstrip("v").split(".")[0] or 0) < 20:
        return (
            f"the node-resize example needs Node.js 20 or newer (sharp and the AWS SDK v3 require it); "
            f"this machine's node is {version}"
        )
    absent = [m for m in NEEDED_MODULES if not (FOLDER / "node_modules" / m / "package.json").is_file()]
    if absent:
        return (
            f"examples/node-resize has no node_modules/{' or '.join(absent)}: run `npm install` in "
            f"examples/node-resize (it installs sharp and @aws-sdk/client-s3 from package-lock.json)"
        )
    return None


def setup(sandbox) -> list[str]:
    reason = missing()
    if reason:
        raise ExampleUnavailable(reason)
    s3, lam = sandbox.shared_client("s3"), sandbox.shared_client("lambda")
    destination = sandbox.config.destination_bucket
    arn = lam.create_function(
        FunctionName=FUNCTION,
        Runtime=RUNTIME,
        Role=sandbox.function.role_arn,
        Handler="index.handler",
        Code={"ZipFile": package(FOLDER)},
        MemorySize=512,
        Timeout=30,
        Environment={"Variables": {"DESTINATION_BUCKET": destination}},
    )["FunctionArn"]
    allow_invoke(sandbox, FUNCTION, f"{BUCKET}-uploads", "s3.amazonaws.com", f"arn:aws:s3:::{BUCKET}")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"Id": "uploads-to-node-resize", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    return [
        f"s3://{BUCKET} -> {FUNCTION} ({RUNTIME}, index.handler) -> s3://{destination}/resized-<key>",
        f"try: aws s3 cp sample_images/test.jpg s3://{BUCKET}/test.jpg",
    ]


EXAMPLE = Example("node-resize", "the guide's resize in JavaScript (Node.js, sharp)", setup)
