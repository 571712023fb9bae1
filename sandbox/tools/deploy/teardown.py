"""`destroy`: remove what deploy created, in reverse order — trigger, layer versions, function, role (and
the buckets with --delete-buckets, only if empty unless --force). What does not exist is skipped."""

from __future__ import annotations

from sandbox.config import GUIDE_MANAGED_POLICY_ARNS
from sandbox.tools.deploy.options import DeployOptions
from sandbox.tools.deploy.policies import INLINE_POLICY_NAME, is_s3_statement, policy_name_of
from sandbox.tools.deploy.report import DeployReport, StepResult
from sandbox.tools.deploy.run import GuideRun
from sandbox.tools.deploy.trigger_rules import entries_for

MAX_KEYS = 1000  # object versions per ListObjectVersions page, and per DeleteObjects call


class Teardown(GuideRun):
    """The guide's four steps undone, last first."""

    action = "destroy"

    def run(self) -> DeployReport:
        options, printer, report = self.options, self.printer, self.report
        name = options.function_name
        account = self.identify(f"Removing {name} from")
        if options.dry_run:
            printer.line(
                "Dry run: nothing is read or changed. These are the calls that remove everything deploy "
                "creates; what does not exist is skipped."
            )
        report.function_arn = self.function_arn(account)

        with printer.step(report, 4, f"S3 trigger s3://{options.source_bucket} -> {name}") as step:
            step.outcome = self.remove_trigger(step)
        with printer.step(report, 3, f"Layer {options.layer_name}") as step:
            step.outcome = self.remove_layer_versions()
        with printer.step(report, 2, f"Lambda function {name}") as step:
            step.outcome = self.remove_function()
        with printer.step(report, 1, f"IAM role {options.role_name}") as step:
            step.outcome = self.remove_role(step)
        printer.line()
        printer.line(
            f"Kept: the log group /aws/lambda/{name} (delete it with `aws logs delete-log-group "
            f"--log-group-name /aws/lambda/{name}`)"
            + (
                ""
                if options.delete_buckets
                else f" and the buckets {options.source_bucket}, "
                f"{options.destination_bucket} (--delete-buckets)"
            )
            + "."
        )
        return report

    # ------------------------------------------------------------------------------ step 4: the trigger
    def remove_trigger(self, step: StepResult) -> str:
        api, options = self.api, self.options
        name, source = options.function_name, options.source_bucket
        parts = []
        if api.dry_run:
            api.call(
                "s3",
                "put_bucket_notification_configuration",
                Bucket=source,
                NotificationConfiguration=f"<the current configuration without the entries for {name}>",
            )
            api.call(
                "lambda",
                "remove_permission",
                FunctionName=name,
                StatementId="<the s3.amazonaws.com statement>",
            )
        else:
            parts.append(self._remove_notification_entries())
            removed = 0
            for statement in self.invoke_permissions():
                if is_s3_statement(statement):
                    api.call("lambda", "remove_permission", FunctionName=name, StatementId=statement["Sid"])
                    removed += 1
            parts.append(f"invoke permission removed ({removed})" if removed else "no invoke permission")
        if options.delete_buckets:
            for bucket in dict.fromkeys([options.source_bucket, options.destination_bucket]):
                parts.append(self.remove_bucket(step, bucket))
        return ", ".join(parts)

    def _remove_notification_entries(self) -> str:
        configuration = self.notification_configuration(not_found=("NoSuchBucket",))
        lambdas = configuration.get("LambdaFunctionConfigurations") or []
        mine = entries_for(configuration, self.options.function_name)
        if not mine:
            return "no notification entry"
        kept = [c for c in lambdas if c not in mine]
        configuration["LambdaFunctionConfigurations"] = kept
        if not kept:
            configuration.pop("LambdaFunctionConfigurations")
        self.api.call(
            "s3",
            "put_bucket_notification_configuration",
            Bucket=self.options.source_bucket,
            NotificationConfiguration=configuration,
        )
        return f"notification entry removed ({len(mine)})"

    def remove_bucket(self, step: StepResult, bucket: str) -> str:
        api, force = self.api, self.options.force
        if api.dry_run:
            if force:
                api.call(
                    "s3", "delete_objects", Bucket=bucket, Delete="<every object version, 1,000 per call>"
                )
            api.call("s3", "delete_bucket", Bucket=bucket)
            return ""
        listing = api.read(
            "s3", "list_object_versions", not_found=("NoSuchBucket",), Bucket=bucket, MaxKeys=MAX_KEYS
        )
        if listing is None:
            return f"bucket {bucket} not found"
        deleted = 0
        while True:
            objects = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in listing.get("Versions", []) + listing.get("DeleteMarkers", [])
            ]
            if objects and not force:
                step.notes.append(
                    f"s3://{bucket} is not empty, so it was kept: add --force to delete its objects "
                    f"and the bucket."
                )
                return f"bucket {bucket} kept (not empty)"
            if objects:
                api.call("s3", "delete_objects", Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
                deleted += len(objects)
            if not listing.get("IsTruncated"):
                break
            listing = (
                api.read(
                    "s3",
                    "list_object_versions",
                    Bucket=bucket,
                    MaxKeys=MAX_KEYS,
                    KeyMarker=listing.get("NextKeyMarker"),
                    VersionIdMarker=listing.get("NextVersionIdMarker"),
                )
                or {}
            )
        api.call("s3", "delete_bucket", Bucket=bucket)
        return f"bucket {bucket} deleted" + (f" ({deleted} object(s))" if deleted else "")

    # ------------------------------------------------------------------------ steps 3 and 2: layer, function
    def remove_layer_versions(self) -> str:
        api, layer = self.api, self.options.layer_name
        if api.dry_run:
            api.call("lambda", "delete_layer_version", LayerName=layer, VersionNumber="<each version>")
            return ""
        versions = self._pages(
            "list_layer_versions",
            lambda page: [v["Version"] for v in page.get("LayerVersions", [])],
            not_found=("ResourceNotFoundException",),
            LayerName=layer,
        )
        for version in versions:
            api.call("lambda", "delete_layer_version", LayerName=layer, VersionNumber=version)
        return (
            f"{len(versions)} version(s) deleted ({', '.join(map(str, sorted(versions)))})"
            if versions
            else "no versions"
        )

    def remove_function(self) -> str:
        api, name = self.api, self.options.function_name
        if api.dry_run or api.read(
            "lambda", "get_function", not_found=("ResourceNotFoundException",), FunctionName=name
        ):
            api.call("lambda", "delete_function", FunctionName=name)
            return "deleted"
        return "not found"

    def _pages(self, method: str, items, **params) -> list:
        """Every page of a Lambda listing (Marker / NextMarker), as one list of ``items(page)``."""
        found, marker = [], None
        while True:
            page = self.api.read("lambda", method, **params, **({"Marker": marker} if marker else {})) or {}
            found += items(page)
            marker = page.get("NextMarker")
            if not marker:
                return found

    # ---------------------------------------------------------------------------------- step 1: the role
    def remove_role(self, step: StepResult) -> str:
        api, name = self.api, self.options.role_name
        if api.dry_run:
            for arn in GUIDE_MANAGED_POLICY_ARNS:
                api.call("iam", "detach_role_policy", RoleName=name, PolicyArn=arn)
            api.call("iam", "delete_role_policy", RoleName=name, PolicyName=INLINE_POLICY_NAME)
            api.call("iam", "delete_role", RoleName=name)
            return ""
        role = api.read("iam", "get_role", not_found=("NoSuchEntity",), RoleName=name)
        if role is None:
            return "not found"
        # A role shared with another function stays: deleting it would break that function.
        users = self._pages(
            "list_functions",
            lambda page: [
                f["FunctionName"]
                for f in page.get("Functions", [])
                if f.get("Role") == role["Role"]["Arn"] and f["FunctionName"] != self.options.function_name
            ],
        )
        if users:
            step.notes.append(
                f"{name} is still the execution role of {', '.join(users)}; delete those functions "
                f"first if you mean to remove it."
            )
            return f"kept (still used by {', '.join(users)})"
        attached = (api.read("iam", "list_attached_role_policies", RoleName=name) or {}).get(
            "AttachedPolicies", []
        )
        for policy in attached:
            api.call("iam", "detach_role_policy", RoleName=name, PolicyArn=policy["PolicyArn"])
        inline = (api.read("iam", "list_role_policies", RoleName=name) or {}).get("PolicyNames", [])
        for policy_name in inline:
            api.call("iam", "delete_role_policy", RoleName=name, PolicyName=policy_name)
        api.call("iam", "delete_role", RoleName=name)
        removed = [policy_name_of(p["PolicyArn"]) for p in attached] + list(inline)
        return "deleted" + (f" with {', '.join(removed)}" if removed else "")


def destroy(session_or_clients, options: DeployOptions | None = None, out=None) -> DeployReport:
    """Remove what deploy created, in reverse order: trigger, layer versions, function, role (and the
    buckets with delete_buckets, only if empty unless force)."""
    return Teardown.for_clients(session_or_clients, options, out).run()
