"""`run_local.py deploy` and `run_local.py destroy`: the guide's four steps, done with boto3.

The same code deploys to the running sandbox (a rehearsal: nothing leaves the machine) and to AWS, with the
guide's names (sandbox/config.py) unless told otherwise:

    Step 1/4  IAM role          trust lambda.amazonaws.com; the guide's two managed policies
                                (or --least-privilege: one inline policy)
    Step 2/4  Lambda function   the runtime and handler of config.py, from build/function.zip
    Step 3/4  Layer             a layer version from the Pillow zip, attached to the function
    Step 4/4  S3 trigger        buckets, the invoke permission for s3.amazonaws.com, the
                                bucket notification s3:ObjectCreated:* -> function

Running it again updates what exists instead of failing. ``destroy`` removes it all again, in reverse order.

The Python API (tests, notebooks)::

    from sandbox.tools.deploy import DeployOptions, deploy, destroy
    report = deploy(sandbox, DeployOptions(function_name="Rehearsal", role_name="RehearsalRole"))
    destroy(sandbox, DeployOptions(function_name="Rehearsal", role_name="RehearsalRole"))

``deploy`` takes a boto3 ``Session``, a ``Sandbox`` (anything with ``client(service)``), a mapping of
service name -> client, or a function ``service -> client``.

The modules, outside in: ``sandbox/cli/deploy_commands.py`` (the command line) and ``target`` (sandbox, endpoint or AWS) build
``DeployOptions`` (``options``); ``steps.Deployment`` and ``teardown.Teardown`` run the steps through
``api.Api`` (calls, recorded in a ``report.DeployReport``), ``printer.Printer`` and ``packages.Packages``
(the zips); ``aws_errors`` turns every failure into one sentence; ``policies`` and ``trigger_rules`` hold
the IAM and S3 documents' rules.
"""
from sandbox.tools.deploy.aws_errors import DeployError
from sandbox.tools.deploy.options import DeployOptions
from sandbox.tools.deploy.policies import INLINE_POLICY_NAME, least_privilege_policy
from sandbox.tools.deploy.report import Call, DeployReport, DestroyReport, StepResult
from sandbox.tools.deploy.steps import Deployment, deploy
from sandbox.tools.deploy.target import ResolvedTarget, probe_endpoint, resolve_target
from sandbox.tools.deploy.teardown import Teardown, destroy

__all__ = [
    "Call", "DeployError", "DeployOptions", "DeployReport", "Deployment", "DestroyReport", "INLINE_POLICY_NAME",
    "ResolvedTarget", "StepResult", "Teardown", "deploy", "destroy", "least_privilege_policy",
    "probe_endpoint", "resolve_target",
]
