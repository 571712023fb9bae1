"""``run_local.py deploy`` and ``run_local.py destroy``: the guide's four steps, done with boto3.

The same code deploys to the running sandbox (a rehearsal) and to AWS: the IAM role, the Lambda function,
the Pillow layer and the S3 trigger. Running it again updates what exists; ``destroy`` removes it all in
reverse order. ``deploy(clients, DeployOptions(...))`` takes a boto3 ``Session``, a ``Sandbox``, a mapping
of service name -> client, or a function ``service -> client``.

The steps, the Python API and the modules of this package: docs/tools.md.
"""

from sandbox.tools.deploy.aws_errors import DeployError
from sandbox.tools.deploy.options import DeployOptions
from sandbox.tools.deploy.policies import INLINE_POLICY_NAME, least_privilege_policy
from sandbox.tools.deploy.report import Call, DeployReport, DestroyReport, StepResult
from sandbox.tools.deploy.steps import Deployment, deploy
from sandbox.tools.deploy.target import ResolvedTarget, probe_endpoint, resolve_target
from sandbox.tools.deploy.teardown import Teardown, destroy

__all__ = [
    "Call",
    "DeployError",
    "DeployOptions",
    "DeployReport",
    "Deployment",
    "DestroyReport",
    "INLINE_POLICY_NAME",
    "ResolvedTarget",
    "StepResult",
    "Teardown",
    "deploy",
    "destroy",
    "least_privilege_policy",
    "probe_endpoint",
    "resolve_target",
]
