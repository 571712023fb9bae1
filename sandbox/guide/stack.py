"""The guide's four steps, done for the learner when the sandbox starts, through the same APIs a user
would call: the buckets, the role (step 1), the function and its dead-letter queue (step 2), its reserved
concurrency, and the S3 trigger with its permission (step 4). Step 3 (the Pillow layer) is not needed
locally: the function runs on this Python, which has Pillow.

A *stack* is what a sandbox creates when it starts (``Sandbox(config, startup_stack=...)``): it has a
``default_function``, ``async_workers``, ``create(sandbox)`` and ``stop()``. :class:`GuideStack` is the
default; :class:`sandbox.sam.TemplateStack` makes one from a template (``run_local.py --template``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.config import (
    ACCOUNT_ID,
    GUIDE_MANAGED_POLICY_ARNS,
    TRIGGER_ID,
    TRUST_POLICY,
    FunctionConfiguration,
    SandboxConfig,
)
from sandbox.errors import ConfigError
from sandbox.lambda_.packaging import function_zip_bytes


class GuideStack:
    """The guide's stack, with the sandbox's own function (handler/ or ``--code-dir``), run from its
    folder."""

    def __init__(self, function: FunctionConfiguration):
        if function.dead_letter_queue is None:  # the sandbox's function has a DLQ, readable with SQS
            function = function.replace(
                dead_letter_queue=f"{function.function_name}-dlq", revision=function.revision
            )
        if not Path(function.code_dir).is_dir():
            raise ConfigError(
                f"Code directory {function.code_dir} does not exist; point --code-dir at the "
                f"folder that holds your lambda_function.py."
            )
        self.function = function
        self.default_function = function.function_name
        self.async_workers = max(10, function.reserved_concurrency)

    def create(self, sandbox) -> None:
        create_guide_stack(sandbox.shared_client, sandbox.config, self.function, sandbox.register_function)

    def restore(self, sandbox) -> None:
        """The guide's resources came back with the state directory: nothing to rebuild."""

    def stop(self) -> None:
        pass


def create_guide_stack(
    client: Callable[[str], Any],
    config: SandboxConfig,
    function: FunctionConfiguration,
    register: Callable[[FunctionConfiguration], object],
) -> None:
    """``client(service)``: a boto3 client for the local endpoint; ``register``: makes the function
    runnable in the sandbox (before the API hears of it, so the API leaves it to the sandbox)."""
    s3 = client("s3")
    for bucket in (config.source_bucket, config.destination_bucket):
        s3.create_bucket(Bucket=bucket)
    iam = client("iam")
    role_name = function.role_arn.rsplit("/", 1)[-1]
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))
    for (
        policy_arn
    ) in GUIDE_MANAGED_POLICY_ARNS:  # `run_local.py deploy --least-privilege` shows the narrower one
        iam.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
    if function.dlq_name:
        client("sqs").create_queue(QueueName=function.dlq_name)
    register(function)
    lam = client("lambda")
    lam.create_function(
        FunctionName=function.function_name,
        Runtime=function.runtime,
        Role=function.role_arn,
        Handler=function.handler,
        Code={"ZipFile": function_zip_bytes(function.code_dir)},
        MemorySize=function.memory_size,
        Timeout=function.timeout,
        Environment={"Variables": dict(function.environment)},
        Architectures=[function.architecture],
        **(
            {
                "DeadLetterConfig": {
                    "TargetArn": f"arn:aws:sqs:{config.region}:{ACCOUNT_ID}:{function.dlq_name}"
                }
            }
            if function.dlq_name
            else {}
        ),
    )
    lam.put_function_concurrency(
        FunctionName=function.function_name, ReservedConcurrentExecutions=function.reserved_concurrency
    )
    lam.add_permission(
        FunctionName=function.function_name,
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{config.source_bucket}",
        SourceAccount=ACCOUNT_ID,
    )
    s3.put_bucket_notification_configuration(
        Bucket=config.source_bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": TRIGGER_ID,
                    "LambdaFunctionArn": function.arn(config.region),
                    "Events": ["s3:ObjectCreated:*"],
                }
            ]
        },
    )
