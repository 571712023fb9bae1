"""`deploy`: the guide's four steps — role, function, layer, trigger. What exists is updated, not
recreated."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from sandbox.config import GUIDE_MANAGED_POLICY_ARNS, LAMBDA_RUNTIME, OUTPUT_KEY_PREFIX, TRUST_POLICY
from sandbox.tools.deploy.api import Api
from sandbox.tools.deploy.aws_errors import DeployError, bucket_name_taken
from sandbox.tools.deploy.options import DeployOptions
from sandbox.tools.deploy.packages import Packages
from sandbox.tools.deploy.policies import (
    INLINE_POLICY_NAME,
    LAMBDA_PRINCIPAL,
    S3_PRINCIPAL,
    grants_s3_invoke,
    least_privilege_policy,
    policy_document,
    policy_name_of,
    s3_statement_id,
    trusts_lambda,
)
from sandbox.tools.deploy.printer import Printer
from sandbox.tools.deploy.report import Blob, DeployReport, StepResult
from sandbox.tools.deploy.run import GuideRun
from sandbox.tools.deploy.trigger_rules import (
    DESTINATION_KEYS,
    TRIGGER_EVENTS,
    configurations_overlap,
    destination_of,
    entries_for,
    function_name_of,
    layer_name_of,
)

S3_DEFAULT_LOCATION = "us-east-1"  # S3's default bucket location, which CreateBucket must not name
CREATE_FUNCTION_ATTEMPTS = 15  # about 30 s for a new role to become assumable (IAM is eventually consistent)
PUT_NOTIFICATION_ATTEMPTS = 6  # about 10 s for a new invoke permission to become visible to S3


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class Deployment(GuideRun):
    """The guide's four steps, in order; ``packages`` finds or builds the zips before any call is made."""

    action = "deploy"

    def __init__(
        self,
        options: DeployOptions,
        api: Api,
        printer: Printer,
        report: DeployReport,
        label: str,
        packages: Packages | None = None,
    ):
        super().__init__(options, api, printer, report, label)
        self.packages = packages or Packages(options, report.target, printer, report)

    def run(self) -> DeployReport:
        """Creates what is missing and updates what exists; returns what it did."""
        options, printer, report = self.options, self.printer, self.report
        # The packages first: a missing or wrong zip stops the deploy before any call is made.
        function_zip = self.packages.function_zip()
        layer_zip, layer_lines = self.packages.layer_zip()
        account = self.identify(f"Deploying {options.function_name} to")
        for line in layer_lines:
            printer.line(line)
        function_arn = self.function_arn(account)
        if options.dry_run:
            printer.line(
                "Dry run: nothing is read or changed. These are the calls of a first deploy; run again, "
                "a deploy updates what exists (UpdateFunctionCode, UpdateFunctionConfiguration) instead."
            )
        else:
            self.check_trigger_conflicts()

        role_arn, role_created = self.step_role(account)
        configuration = self.step_function(role_arn, role_created, function_zip)
        report.function_arn = function_arn = configuration.get("FunctionArn") or function_arn
        self.step_layer(configuration, layer_zip)
        self.step_trigger(function_arn, account)

        if not options.dry_run:
            self.print_next_steps()
        return report

    def check_trigger_conflicts(self) -> None:
        """Before changing anything: would S3 refuse the trigger because another one overlaps it?"""
        configuration = self.notification_configuration(not_found=("NoSuchBucket",))
        ours = {"Events": TRIGGER_EVENTS}
        name, source = self.options.function_name, self.options.source_bucket
        for key in DESTINATION_KEYS:
            for other in configuration.get(key) or []:
                if (
                    key == "LambdaFunctionConfigurations"
                    and function_name_of(other.get("LambdaFunctionArn", "")) == name
                ):
                    continue
                if configurations_overlap(ours, other):
                    raise DeployError(
                        f"s3://{source} already sends {', '.join(other.get('Events', []))} events to "
                        f"{destination_of(other)} (notification {other.get('Id', '?')}), and S3 refuses two "
                        "overlapping triggers on one bucket: deploy with another --source-bucket, or remove "
                        "that trigger first.",
                        "ConfigurationsOverlap",
                    )

    # ------------------------------------------------------------------------------- step 1: the role
    def step_role(self, account: str) -> tuple[str, bool]:
        api, options, name = self.api, self.options, self.options.role_name
        with self.printer.step(self.report, 1, f"IAM role {name}") as step:
            role = api.read("iam", "get_role", not_found=("NoSuchEntity",), RoleName=name)
            created = role is None
            changes: list[str] = []
            if created:
                response = api.call(
                    "iam",
                    "create_role",
                    RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
                    Description=f"Execution role of {options.function_name} (run_local.py deploy)",
                )
                role_arn = response["Role"]["Arn"] if response else f"arn:aws:iam::{account}:role/{name}"
            else:
                role_arn = role["Role"]["Arn"]
                if not trusts_lambda(role["Role"].get("AssumeRolePolicyDocument")):
                    api.call(
                        "iam",
                        "update_assume_role_policy",
                        RoleName=name,
                        PolicyDocument=json.dumps(TRUST_POLICY),
                    )
                    changes.append(f"trust policy set to {LAMBDA_PRINCIPAL}")
            changes += self.apply_role_policies(step, account, created)
            self.report.role_arn = role_arn
            if options.least_privilege:
                policies = f"inline policy {INLINE_POLICY_NAME} (least privilege)"
            else:
                policies = " + ".join(policy_name_of(arn) for arn in GUIDE_MANAGED_POLICY_ARNS)
                if step.notes:
                    policies += " (not attached here, see the note)"
            if created:
                step.outcome = f"created, {policies}"
            elif changes:
                step.outcome = f"exists, policies updated ({'; '.join(changes)})"
            else:
                step.outcome = f"exists, policies unchanged ({policies})"
        return role_arn, created

    def apply_role_policies(self, step: StepResult, account: str, created: bool) -> list[str]:
        """The guide's two managed policies, or with --least-privilege the one inline policy instead; what
        changed, in words."""
        api, options, name = self.api, self.options, self.options.role_name
        attached = (
            set()
            if created
            else {
                p["PolicyArn"]
                for p in (api.read("iam", "list_attached_role_policies", RoleName=name) or {}).get(
                    "AttachedPolicies", []
                )
            }
        )
        inline = (
            set()
            if created
            else set((api.read("iam", "list_role_policies", RoleName=name) or {}).get("PolicyNames", []))
        )
        if options.least_privilege:
            return self._use_inline_policy(account, attached, inline)
        changes, unknown = [], []
        for arn in GUIDE_MANAGED_POLICY_ARNS:
            if arn in attached:
                continue
            _, refusal = api.call_or_refusal(
                "iam", "attach_role_policy", self._unknown_locally, RoleName=name, PolicyArn=arn
            )
            if refusal:
                unknown.append(policy_name_of(arn))
            elif not created:
                changes.append(f"{policy_name_of(arn)} attached")
        if unknown:
            # moto knows AWS's managed policies only when started with MOTO_IAM_LOAD_MANAGED_POLICIES=true.
            # Nothing is lost for the rehearsal: the sandbox does not enforce IAM.
            many = len(unknown) > 1
            step.notes.append(
                f"this endpoint has no copy of the AWS managed polic{'ies' if many else 'y'} "
                f"{' + '.join(unknown)}, so {'they were' if many else 'it was'} not attached; "
                f"the sandbox does not enforce IAM, so the function runs the same (on AWS "
                f"{'they are' if many else 'it is'} attached)."
            )
        if INLINE_POLICY_NAME in inline:
            api.call("iam", "delete_role_policy", RoleName=name, PolicyName=INLINE_POLICY_NAME)
            changes.append(f"{INLINE_POLICY_NAME} removed")
        return changes

    def _unknown_locally(self, error: DeployError) -> bool:
        """A managed policy a local endpoint has no copy of (on AWS, NoSuchEntity is a real failure)."""
        return error.code == "NoSuchEntity" and self.target != "aws"

    def _use_inline_policy(self, account: str, attached: set, inline: set) -> list[str]:
        """--least-privilege: the inline policy in place of the guide's managed policies."""
        api, options, name = self.api, self.options, self.options.role_name
        changes = []
        document = least_privilege_policy(
            options.source_bucket,
            options.destination_bucket,
            self.report.region,
            account,
            options.function_name,
        )
        current = None
        if INLINE_POLICY_NAME in inline:
            current = policy_document(
                (api.read("iam", "get_role_policy", RoleName=name, PolicyName=INLINE_POLICY_NAME) or {}).get(
                    "PolicyDocument"
                )
            )
        if current != document:
            api.call(
                "iam",
                "put_role_policy",
                RoleName=name,
                PolicyName=INLINE_POLICY_NAME,
                PolicyDocument=json.dumps(document),
            )
            changes.append(f"{INLINE_POLICY_NAME} {'replaced' if current else 'added'}")
        for arn in GUIDE_MANAGED_POLICY_ARNS:
            if arn in attached:
                api.call("iam", "detach_role_policy", RoleName=name, PolicyArn=arn)
                changes.append(f"{policy_name_of(arn)} detached")
        return changes

    # --------------------------------------------------------------------------- step 2: the function
    def step_function(self, role_arn: str, role_created: bool, function_zip: Path) -> dict:
        api, options, name = self.api, self.options, self.options.function_name
        summary = (
            f"{LAMBDA_RUNTIME}, {options.handler}, {options.memory} MB, {options.timeout} s, "
            f"{options.architecture}"
        )
        with self.printer.step(self.report, 2, f"Lambda function {name}") as step:
            code = Blob(function_zip.read_bytes() if function_zip.is_file() else b"", str(function_zip))
            existing = api.read(
                "lambda", "get_function", not_found=("ResourceNotFoundException",), FunctionName=name
            )
            environment = {"DESTINATION_BUCKET": options.destination_bucket, **options.environment}
            if existing is None:
                # IAM is eventually consistent: for a few seconds after CreateRole, Lambda may answer "The
                # role defined for the function cannot be assumed by Lambda". AWS's own tools retry; so does
                # deploy.
                retry_role = role_created and self.target == "aws"
                configuration = (
                    api.call_retrying(
                        "lambda",
                        "create_function",
                        self._role_not_assumable_yet,
                        CREATE_FUNCTION_ATTEMPTS if retry_role else 1,
                        FunctionName=name,
                        Runtime=LAMBDA_RUNTIME,
                        Role=role_arn,
                        Handler=options.handler,
                        Code={"ZipFile": code},
                        Description="Resizes images uploaded to "
                        f"{options.source_bucket} into {options.destination_bucket} (run_local.py deploy)",
                        MemorySize=options.memory,
                        Timeout=options.timeout,
                        Environment={"Variables": environment},
                        Architectures=[options.architecture],
                    )
                    or {}
                )
                if configuration and configuration.get("State") not in (None, "Active"):
                    api.wait("function_active", FunctionName=name)
                step.outcome = f"created ({summary})"
                if options.use_layer:
                    step.notes.append("the Pillow layer is attached in step 3, as in the guide")
                return configuration
            current = existing["Configuration"]
            response = api.call(
                "lambda",
                "update_function_code",
                FunctionName=name,
                ZipFile=code,
                Architectures=[options.architecture],
            )
            self._wait_updated(response)
            variables = {**((current.get("Environment") or {}).get("Variables") or {}), **environment}
            response = api.call(
                "lambda",
                "update_function_configuration",
                FunctionName=name,
                Role=role_arn,
                Handler=options.handler,
                Runtime=LAMBDA_RUNTIME,
                MemorySize=options.memory,
                Timeout=options.timeout,
                Environment={"Variables": variables},
            )
            self._wait_updated(response)
            same_code = current.get("CodeSha256") == _sha256_b64(code.data)
            step.outcome = (
                f"exists, code{' (unchanged)' if same_code else ''} and configuration updated ({summary})"
            )
            return response or current

    @staticmethod
    def _role_not_assumable_yet(error: DeployError) -> bool:
        return error.code == "InvalidParameterValueException" and "assumed" in str(error)

    def _wait_updated(self, response: dict | None) -> None:
        if response and response.get("LastUpdateStatus") not in (None, "Successful"):
            self.api.wait("function_updated", FunctionName=self.options.function_name)

    def _set_layers(self, layers: list[str]) -> None:
        response = self.api.call(
            "lambda", "update_function_configuration", FunctionName=self.options.function_name, Layers=layers
        )
        self._wait_updated(response)

    # ------------------------------------------------------------------------------ step 3: the layer
    def step_layer(self, configuration: dict, layer_zip: Path | None) -> None:
        api, options, name, layer = (
            self.api,
            self.options,
            self.options.function_name,
            self.options.layer_name,
        )
        current = [attached["Arn"] for attached in configuration.get("Layers") or []]
        others = [arn for arn in current if layer_name_of(arn) != layer]
        with self.printer.step(self.report, 3, f"Layer {layer}") as step:
            if layer_zip is None:
                detached = ""
                if others != current:
                    self._set_layers(others)
                    detached = f"{layer} detached from {name}; "
                step.outcome = (
                    f"skipped (--no-layer): {detached}{name} has no Pillow, so the next upload fails "
                    f"with Runtime.ImportModuleError: No module named 'PIL'"
                )
                return
            data = layer_zip.read_bytes() if layer_zip.is_file() else b""
            reuse = self._same_layer_version(data)
            if reuse:
                arn = reuse["LayerVersionArn"]
                what = f"version {reuse['Version']} reused (same zip)"
            else:
                response = api.call(
                    "lambda",
                    "publish_layer_version",
                    LayerName=layer,
                    Description=self.packages.layer_description(layer_zip),
                    Content={"ZipFile": Blob(data, str(layer_zip))},
                    CompatibleRuntimes=[LAMBDA_RUNTIME],
                    CompatibleArchitectures=[options.architecture],
                )
                if response:
                    arn, version = response["LayerVersionArn"], response["Version"]
                else:
                    arn = (
                        f"arn:aws:lambda:{self.report.region}:{self.report.account}:"
                        f"layer:{layer}:<next version>"
                    )
                    version = "<next>"
                what = f"version {version} published"
            self.report.layer_version_arn = arn
            wanted = others + [arn]
            if wanted != current:
                self._set_layers(wanted)
                step.outcome = f"{what}, attached to {name}"
            else:
                step.outcome = f"{what}, already attached to {name}"

    def _same_layer_version(self, data: bytes) -> dict | None:
        """The layer's newest version when it holds this very zip for this architecture (it is reused)."""
        api, options = self.api, self.options
        versions = (
            api.read(
                "lambda",
                "list_layer_versions",
                not_found=("ResourceNotFoundException",),
                LayerName=options.layer_name,
            )
            or {}
        ).get("LayerVersions", [])
        if not versions:
            return None
        newest = max(versions, key=lambda v: v["Version"])
        full = (
            api.read(
                "lambda", "get_layer_version", LayerName=options.layer_name, VersionNumber=newest["Version"]
            )
            or {}
        )
        same_zip = (full.get("Content") or {}).get("CodeSha256") == _sha256_b64(data)
        if same_zip and options.architecture in full.get("CompatibleArchitectures", [options.architecture]):
            return full
        return None

    # ---------------------------------------------------------------------------- step 4: the trigger
    def step_trigger(self, function_arn: str, account: str) -> None:
        options, name = self.options, self.options.function_name
        source, destination = options.source_bucket, options.destination_bucket
        with self.printer.step(self.report, 4, f"S3 trigger s3://{source} -> {name}") as step:
            parts = []
            created = [b for b in dict.fromkeys([source, destination]) if self._ensure_bucket(b)]
            if created:
                parts.append(f"bucket{'s' if len(created) > 1 else ''} {', '.join(created)} created")
            else:
                parts.append("buckets exist")
            if source == destination:
                step.notes.append(
                    "source and destination are the same bucket: every resized image triggers the "
                    "function again (the handler skips keys starting with its output prefix, but each "
                    "skip is still an invocation you pay for)."
                )
            parts.append(self._allow_s3_to_invoke(account))
            parts.append(self._notify_function(function_arn))
            step.outcome = ", ".join(parts)

    def _allow_s3_to_invoke(self, account: str) -> str:
        """S3 may invoke the function only if the function's resource policy allows it."""
        api, name, source = self.api, self.options.function_name, self.options.source_bucket
        bucket_arn = f"arn:aws:s3:::{source}"
        if any(grants_s3_invoke(s, bucket_arn) for s in self.invoke_permissions()):
            return "invoke permission exists"
        sid = s3_statement_id(source)
        permission = dict(
            FunctionName=name,
            StatementId=sid,
            Action="lambda:InvokeFunction",
            Principal=S3_PRINCIPAL,
            SourceArn=bucket_arn,
            SourceAccount=account,
        )
        try:
            api.call("lambda", "add_permission", **permission)
        except DeployError as exc:
            if exc.code != "ResourceConflictException":
                raise
            api.call("lambda", "remove_permission", FunctionName=name, StatementId=sid)
            api.call("lambda", "add_permission", **permission)
        return "invoke permission added"

    def _notify_function(self, function_arn: str) -> str:
        """The bucket notification s3:ObjectCreated:* -> function, keeping the bucket's other entries."""
        name, source = self.options.function_name, self.options.source_bucket
        configuration = self.notification_configuration()
        lambdas = configuration.get("LambdaFunctionConfigurations") or []
        mine = entries_for(configuration, name)
        entry = {
            "Id": (mine[0].get("Id") if mine and mine[0].get("Id") else f"{name}-trigger"),
            "LambdaFunctionArn": function_arn,
            "Events": list(TRIGGER_EVENTS),
        }
        if (
            len(mine) == 1
            and mine[0].get("LambdaFunctionArn") == function_arn
            and sorted(mine[0].get("Events", [])) == TRIGGER_EVENTS
            and not mine[0].get("Filter")
        ):
            return "notification exists"
        configuration["LambdaFunctionConfigurations"] = [c for c in lambdas if c not in mine] + [entry]
        # S3 checks the function's permission when the configuration is saved; on AWS a permission added a
        # moment ago may not be visible yet ("Unable to validate the following destination configurations").
        self.api.call_retrying(
            "s3",
            "put_bucket_notification_configuration",
            self._permission_not_visible_yet,
            PUT_NOTIFICATION_ATTEMPTS,
            Bucket=source,
            NotificationConfiguration=configuration,
        )
        return f"notification {TRIGGER_EVENTS[0]} {'updated' if mine else 'added'}"

    @staticmethod
    def _permission_not_visible_yet(error: DeployError) -> bool:
        return error.code == "InvalidArgument" and "validate" in str(error)

    def _ensure_bucket(self, bucket: str) -> bool:
        """Create the bucket if it does not exist; True when created."""
        api = self.api
        if not api.dry_run:
            try:
                if (
                    api.read(
                        "s3", "head_bucket", not_found=("404", "NoSuchBucket", "NotFound"), Bucket=bucket
                    )
                    is not None
                ):
                    return False
            except DeployError as exc:
                if exc.code in ("403", "AccessDenied"):
                    raise bucket_name_taken(bucket) from None
                raise
        params: dict = {"Bucket": bucket}
        if self.report.region != S3_DEFAULT_LOCATION:  # S3's default location must not be named
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.report.region}
        try:
            api.call("s3", "create_bucket", **params)
        except DeployError as exc:
            if exc.code == "BucketAlreadyOwnedByYou":
                return False
            if exc.code == "BucketAlreadyExists":
                raise bucket_name_taken(bucket) from None
            raise
        return True

    # ---------------------------------------------------------------------------------- the end
    def print_next_steps(self) -> None:
        options, printer, target = self.options, self.printer, self.target
        src, dst, name = options.source_bucket, options.destination_bucket, options.function_name
        printer.line()
        if target == "sandbox":
            endpoint = f" {options.endpoint_flag()}" if options.endpoint_flag() else ""
            printer.line(
                f"Deployed to the sandbox. Try it:  python run_local.py upload sample_images/test.jpg "
                f"--bucket {src}{endpoint}"
            )
            printer.line(f"Remove it again:  python run_local.py destroy{options.cli_flags(target)}")
            return
        printer.line("Deployed. Try it:")
        printer.line(f"  aws s3 cp sample_images/test.jpg s3://{src}/test.jpg")
        printer.line(
            f"  aws s3 ls s3://{dst}/            ({OUTPUT_KEY_PREFIX}test.jpg appears within seconds)"
        )
        printer.line(f"  aws logs tail /aws/lambda/{name} --follow")
        if target == "aws":
            printer.line(
                "Cost: IAM, layers and S3 notifications are free; each upload is one Lambda request plus "
                "GB-seconds (1M requests and 400,000 GB-s a month are free) and a little S3 storage."
            )
            printer.line(
                f"Remove everything:  python run_local.py destroy{options.cli_flags(target)} "
                f"[--delete-buckets [--force]]"
            )


def deploy(session_or_clients, options: DeployOptions | None = None, out=None) -> DeployReport:
    """The guide's four steps. Creates what is missing and updates what exists; returns what it did.

    ``session_or_clients``: a boto3 ``Session``, a ``Sandbox`` (anything with ``client(service)``), a mapping
    of service name -> client, or a function ``service -> client``."""
    return Deployment.for_clients(session_or_clients, options, out).run()
