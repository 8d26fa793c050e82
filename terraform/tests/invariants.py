"""Invariants of bacca's Terraform that no checkov check covers, checked on the parsed HCL.

Each ``check_*`` function takes a :class:`Config` (the parsed ``.tf`` files of one module or
example directory, or of a snippet in a test) and returns a list of violations as readable
strings; an empty list means the invariant holds. The same functions run over the real code
(tests/test_invariants.py) and over deliberately broken snippets (tests/test_negative.py).

The parser is python-hcl2. checkov installs bc-python-hcl2 into the same ``hcl2`` package,
which wraps every attribute value in a one-element list; :func:`attr` hides the difference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

# Does this hcl2 wrap attribute values in one-element lists (bc-python-hcl2 style)?
_WRAPPED = hcl2.loads('probe = "x"\n')["probe"] == ["x"]

MAX_RAW_RETENTION_DAYS = 29
MAX_ROTATION_SECONDS = 90 * 86400
MAX_TOPIC_RETENTION_SECONDS = 7 * 86400
PUBLIC_MEMBERS = ("allusers", "allauthenticatedusers")
INTERNAL_INGRESS = "INGRESS_TRAFFIC_INTERNAL_ONLY"
META_ARGUMENTS = {"source", "version", "for_each", "count", "depends_on", "providers"}

# IAM resources that grant on a tenant's data: resource type -> attribute naming the target.
TENANT_DATA_IAM = {
    "google_storage_bucket_iam_member": ("bucket", "google_storage_bucket"),
    "google_kms_crypto_key_iam_member": ("crypto_key_id", "google_kms_crypto_key"),
    "google_secret_manager_secret_iam_member": ("secret_id", "google_secret_manager_secret"),
}
AUTHORITATIVE_IAM = re.compile(r"_iam_(binding|policy)$")

# Members that are Google-managed identities rather than principals of any tenant.
SERVICE_AGENT_REFS = re.compile(
    r"^serviceAccount:\$\{(var\.service_agents\.\w+"
    r"|google_project_service_identity\.\w+(\[[^\]]*\])?\.email"
    r"|data\.google_storage_project_service_account\.\w+\.email_address"
    r"|data\.google_logging_project_cmek_settings\.\w+\.service_account_id)\}$"
)
MODULE_SERVICE_ACCOUNT = re.compile(
    r"^serviceAccount:\$\{google_service_account\.(\w+)(\[[^\]]*\])?\.email\}$"
)
# Cloud Storage writes usage logs as this Google group; allowed only as objectCreator.
STORAGE_LOG_WRITER = "group:cloud-storage-analytics@google.com"


def clean(value):
    """A string value without the quoting some hcl2 versions keep around templates."""
    if not isinstance(value, str):
        return value
    s = value.strip()
    while True:
        if s.startswith('${"') and s.endswith('"}'):
            s = s[3:-2].replace('\\"', '"')
        elif len(s) >= 2 and s.startswith('"') and s.endswith('"'):
            s = s[1:-1].replace('\\"', '"')
        else:
            return s.replace('\\"', '"')


def normalize(value):
    """One shape for both parsers: python-hcl2 8 keeps the quotes of strings and block labels
    and marks blocks with `__is_block__`; bc-python-hcl2 does neither."""
    if isinstance(value, dict):
        return {clean(k): normalize(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return clean(value)


def attr(body: dict, key: str, default=None):
    """The value of attribute `key` of a block body (None if absent)."""
    if not isinstance(body, dict) or key not in body:
        return default
    value = body[key]
    if _WRAPPED and isinstance(value, list) and len(value) == 1:
        value = value[0]
    return clean(value)


def blocks(body: dict, key: str) -> list[dict]:
    """The nested blocks `key` of a block body, including `dynamic "key"` contents."""
    if not isinstance(body, dict):
        return []
    found = [b for b in body.get(key, []) if isinstance(b, dict)]
    for dyn in body.get("dynamic", []) or []:
        if isinstance(dyn, dict) and key in dyn:
            for content in dyn[key].get("content", []):
                found.append(content)
    return found


def block(body: dict, *path: str) -> dict | None:
    """The first block along `path` (e.g. block(b, "template", "scaling")), or None."""
    current = body
    for key in path:
        found = blocks(current, key)
        if not found:
            return None
        current = found[0]
    return current


def as_bool(value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


@dataclass
class Config:
    """The parsed HCL of one directory (module, example) or of in-memory snippets."""

    name: str
    texts: dict[str, str]
    docs: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self):
        for fname, text in self.texts.items():
            self.docs[fname] = normalize(hcl2.loads(text))

    @classmethod
    def from_dir(cls, path: Path) -> "Config":
        texts = {p.name: p.read_text(encoding="utf-8") for p in sorted(path.glob("*.tf"))}
        return cls(str(path), texts)

    @classmethod
    def from_text(cls, text: str, name: str = "variables.tf") -> "Config":
        # Snippets declare variables, so they stand in for variables.tf.
        return cls(name, {name: text})

    def resources(self, rtype: str | None = None) -> list[tuple[str, str, dict, str]]:
        """(type, name, body, file) of every resource, optionally of one type."""
        out = []
        for fname, doc in self.docs.items():
            for entry in doc.get("resource", []):
                for t, named in entry.items():
                    if rtype is not None and t != rtype:
                        continue
                    for n, body in named.items():
                        out.append((t, n, body, fname))
        return out

    def named(self, kind: str) -> list[tuple[str, dict, str]]:
        """(name, body, file) of every `variable`, `output` or `module` block, in file order."""
        out = []
        for fname, doc in self.docs.items():
            for entry in doc.get(kind, []):
                for n, body in entry.items():
                    out.append((n, body, fname))
        return out

    def variables(self) -> dict[str, dict]:
        return {n: b for n, b, _ in self.named("variable")}

    def locals(self) -> dict:
        out = {}
        for doc in self.docs.values():
            for entry in doc.get("locals", []):
                out.update(entry)
        return out

    def local(self, name: str):
        value = self.locals().get(name)
        if _WRAPPED and isinstance(value, list) and len(value) == 1:
            value = value[0]
        return value

    def is_tenant_module(self) -> bool:
        return "tenant_id" in self.variables()


def where(rtype: str, name: str, fname: str) -> str:
    return f"{fname}: {rtype}.{name}"


# ---------------------------------------------------------------- value resolution

_REF = re.compile(r"^\$\{(var|local)\.(\w+)\}(s?)$")


def resolve_number(cfg: Config, value, bound_name: str, maximum: float) -> tuple[float | None, list[str]]:
    """Resolve a literal, "Ns", `${var.x}` or `${var.x}s` to a number and check it is <= maximum.

    A variable counts only if its default respects the bound AND one of its validations
    enforces it (`var.x <= N` with N <= maximum), so no caller can pass a larger value.
    """
    problems: list[str] = []
    if isinstance(value, bool):
        return None, [f"{bound_name}: not a number: {value!r}"]
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?s?", value):
        number = float(value.rstrip("s"))
    elif isinstance(value, str) and _REF.match(value):
        kind, ref, _ = _REF.match(value).groups()
        if kind == "local":
            return resolve_number(cfg, clean(cfg.local(ref)), bound_name, maximum)
        var = cfg.variables().get(ref)
        if var is None:
            return None, [f"{bound_name}: references undeclared variable {ref}"]
        default = attr(var, "default")
        if default is None:
            return None, [f"{bound_name}: variable {ref} has no default to check"]
        number, problems = resolve_number(cfg, default, bound_name, maximum)
        enforced = False
        for validation in blocks(var, "validation"):
            condition = str(attr(validation, "condition"))
            for m in re.finditer(rf"var\.{ref}\s*<=\s*(\d+(\.\d+)?)", condition):
                if float(m.group(1)) <= maximum:
                    enforced = True
        if not enforced:
            problems.append(f"{bound_name}: no validation of variable {ref} enforces <= {maximum:g}")
    else:
        return None, [f"{bound_name}: cannot resolve {value!r} to a number"]
    if number is not None and number > maximum:
        problems.append(f"{bound_name}: {number:g} exceeds {maximum:g}")
    return number, problems


# ---------------------------------------------------------------- the invariants


def is_raw_bucket(name: str, body: dict) -> bool:
    labels = str(attr(body, "labels") or "")
    return "raw" in name or "data = \"raw\"" in labels or "'data': 'raw'" in labels


def check_buckets(cfg: Config) -> list[str]:
    """Every bucket: CMEK, uniform access, public access prevention. Raw buckets also: lifecycle
    Delete at days_since_custom_time <= 29, soft delete 0, no versioning, no retention policy,
    no default event-based hold, and the key grant of the storage agent created first."""
    problems = []
    for t, n, body, f in cfg.resources("google_storage_bucket"):
        here = where(t, n, f)
        enc = block(body, "encryption")
        if not enc or not attr(enc, "default_kms_key_name"):
            problems.append(f"{here}: no CMEK (encryption.default_kms_key_name)")
        if attr(body, "public_access_prevention") != "enforced":
            problems.append(f"{here}: public_access_prevention is not \"enforced\"")
        if as_bool(attr(body, "uniform_bucket_level_access")) is not True:
            problems.append(f"{here}: uniform_bucket_level_access is not true")
        if not is_raw_bucket(n, body):
            continue
        deletes = []
        for rule in blocks(body, "lifecycle_rule"):
            action = block(rule, "action")
            condition = block(rule, "condition")
            if action and attr(action, "type") == "Delete" and condition and "days_since_custom_time" in condition:
                deletes.append(attr(condition, "days_since_custom_time"))
        if not deletes:
            problems.append(f"{here}: raw bucket without a Delete rule on days_since_custom_time")
        for days in deletes:
            number, found = resolve_number(cfg, days, f"{here}: days_since_custom_time", MAX_RAW_RETENTION_DAYS)
            problems += found
            if number == 0:
                problems.append(f"{here}: days_since_custom_time = 0 is ignored by the provider")
        soft = block(body, "soft_delete_policy")
        if soft is None or attr(soft, "retention_duration_seconds") not in (0, "0"):
            problems.append(f"{here}: raw bucket soft delete is not disabled (retention_duration_seconds = 0)")
        versioning = block(body, "versioning")
        if versioning is not None and as_bool(attr(versioning, "enabled")) is not False:
            problems.append(f"{here}: raw bucket has versioning enabled")
        if blocks(body, "retention_policy"):
            problems.append(f"{here}: raw bucket has a retention policy (blocks deletion)")
        if as_bool(attr(body, "default_event_based_hold")) is True:
            problems.append(f"{here}: raw bucket has a default event-based hold")
        if not blocks(body, "logging"):
            problems.append(f"{here}: raw bucket without access logging")
        if not _depends_on_key_grant(body):
            problems.append(f"{here}: does not depend on the storage agent's key grant")
    return problems


def _depends_on_key_grant(body: dict) -> bool:
    deps = attr(body, "depends_on") or []
    if isinstance(deps, str):
        deps = [deps]
    return any("google_kms_crypto_key_iam_member." in str(d) for d in deps)


def check_crypto_keys(cfg: Config) -> list[str]:
    """Every crypto key: HSM, rotation <= 90 days, prevent_destroy, explicit destroy delay."""
    problems = []
    for t, n, body, f in cfg.resources("google_kms_crypto_key"):
        here = where(t, n, f)
        template = block(body, "version_template")
        if not template or attr(template, "protection_level") != "HSM":
            problems.append(f"{here}: version_template.protection_level is not HSM")
        rotation = attr(body, "rotation_period")
        if rotation is None:
            problems.append(f"{here}: no rotation_period")
        else:
            number, found = resolve_number(cfg, rotation, f"{here}: rotation_period", MAX_ROTATION_SECONDS)
            problems += found
            if number is not None and number <= 86400:
                problems.append(f"{here}: rotation_period must be more than one day")
        lifecycle = block(body, "lifecycle")
        if not lifecycle or as_bool(attr(lifecycle, "prevent_destroy")) is not True:
            problems.append(f"{here}: lifecycle.prevent_destroy is not true")
        if attr(body, "destroy_scheduled_duration") is None:
            problems.append(f"{here}: no explicit destroy_scheduled_duration")
    return problems


def check_no_public_members(cfg: Config) -> list[str]:
    """No allUsers / allAuthenticatedUsers anywhere, in any form (text scan of every file)."""
    problems = []
    for fname, text in cfg.texts.items():
        for lineno, line in enumerate(text.splitlines(), start=1):
            lowered = line.lower()
            for member in PUBLIC_MEMBERS:
                if member in lowered:
                    problems.append(f"{fname}:{lineno}: public member {member}")
    return problems


def check_push_subscriptions(cfg: Config) -> list[str]:
    """Every push subscription: OIDC token, dead-letter policy (5..100 attempts), retry policy."""
    problems = []
    for t, n, body, f in cfg.resources("google_pubsub_subscription"):
        here = where(t, n, f)
        push = block(body, "push_config")
        if push is None:
            continue
        oidc = block(push, "oidc_token")
        if not oidc or not attr(oidc, "service_account_email"):
            problems.append(f"{here}: push subscription without an OIDC token")
        dlq = block(body, "dead_letter_policy")
        if not dlq or not attr(dlq, "dead_letter_topic"):
            problems.append(f"{here}: push subscription without a dead-letter policy")
        else:
            attempts = attr(dlq, "max_delivery_attempts")
            if isinstance(attempts, int) and not 5 <= attempts <= 100:
                problems.append(f"{here}: max_delivery_attempts must be 5..100")
        if block(body, "retry_policy") is None:
            problems.append(f"{here}: push subscription without a retry policy")
    return problems


def check_cloud_run(cfg: Config) -> list[str]:
    """Every Cloud Run service is v2, internal-only, runs as its own identity, scales to zero
    with startup CPU boost; invoker grants name a service account, never a public member."""
    problems = []
    for t, n, body, f in cfg.resources("google_cloud_run_service"):
        problems.append(f"{where(t, n, f)}: use google_cloud_run_v2_service")
    for t, n, body, f in cfg.resources("google_cloud_run_v2_service"):
        here = where(t, n, f)
        if attr(body, "ingress") != INTERNAL_INGRESS:
            problems.append(f"{here}: ingress is not {INTERNAL_INGRESS}")
        template = block(body, "template")
        if not template or not attr(template, "service_account"):
            problems.append(f"{here}: no dedicated template.service_account")
        scaling = block(body, "template", "scaling")
        if scaling is None or attr(scaling, "min_instance_count") not in (0, "0"):
            problems.append(f"{here}: does not scale to zero (template.scaling.min_instance_count = 0)")
        resources = block(body, "template", "containers", "resources")
        if resources is None or as_bool(attr(resources, "startup_cpu_boost")) is not True:
            problems.append(f"{here}: no startup CPU boost")
    for rtype in ("google_cloud_run_v2_service_iam_member", "google_cloud_run_v2_service_iam_binding"):
        for t, n, body, f in cfg.resources(rtype):
            members = attr(body, "members") if "binding" in rtype else [attr(body, "member")]
            for member in members or []:
                if not str(clean(member)).startswith("serviceAccount:"):
                    problems.append(f"{where(t, n, f)}: invoker {member!r} is not a service account")
    return problems


def check_topics(cfg: Config) -> list[str]:
    """Every topic: CMEK and a message retention bounded to 7 days."""
    problems = []
    for t, n, body, f in cfg.resources("google_pubsub_topic"):
        here = where(t, n, f)
        if not attr(body, "kms_key_name"):
            problems.append(f"{here}: no CMEK (kms_key_name)")
        retention = attr(body, "message_retention_duration")
        if retention is None:
            problems.append(f"{here}: no bounded message_retention_duration")
        else:
            _, found = resolve_number(cfg, retention, f"{here}: message_retention_duration", MAX_TOPIC_RETENTION_SECONDS)
            problems += found
        if not _depends_on_key_grant(body):
            problems.append(f"{here}: does not depend on the Pub/Sub agent's key grant")
    return problems


def check_secrets(cfg: Config) -> list[str]:
    """Every secret: user-managed replication with CMEK on every replica."""
    problems = []
    for t, n, body, f in cfg.resources("google_secret_manager_secret"):
        here = where(t, n, f)
        replicas = [r for um in blocks(block(body, "replication") or {}, "user_managed") for r in blocks(um, "replicas")]
        if not replicas:
            problems.append(f"{here}: no user-managed replication (needed for CMEK)")
        for replica in replicas:
            cmek = block(replica, "customer_managed_encryption")
            if not cmek or not attr(cmek, "kms_key_name"):
                problems.append(f"{here}: replica without customer_managed_encryption")
        if not _depends_on_key_grant(body):
            problems.append(f"{here}: does not depend on the Secret Manager agent's key grant")
    return problems


def check_sql(cfg: Config) -> list[str]:
    """Cloud SQL: private IP only, TLS required, IAM authentication, backups, CMEK, protection."""
    problems = []
    for t, n, body, f in cfg.resources("google_sql_database_instance"):
        here = where(t, n, f)
        if not attr(body, "encryption_key_name"):
            problems.append(f"{here}: no CMEK (encryption_key_name)")
        settings = block(body, "settings") or {}
        ip = block(settings, "ip_configuration") or {}
        if as_bool(attr(ip, "ipv4_enabled")) is not False or not attr(ip, "private_network"):
            problems.append(f"{here}: not private-IP only")
        if attr(ip, "ssl_mode") not in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"):
            problems.append(f"{here}: TLS is not required (ssl_mode)")
        flags = {attr(fl, "name"): attr(fl, "value") for fl in blocks(settings, "database_flags")}
        if flags.get("cloudsql.iam_authentication") != "on":
            problems.append(f"{here}: IAM database authentication is off")
        backup = block(settings, "backup_configuration") or {}
        if as_bool(attr(backup, "enabled")) is not True:
            problems.append(f"{here}: backups are off")
        for holder, key in ((body, "deletion_protection"), (settings, "deletion_protection_enabled")):
            value = attr(holder, key)
            if isinstance(value, str) and _REF.match(value):
                value = attr(cfg.variables().get(_REF.match(value).group(2), {}), "default")
            if as_bool(value) is not True:
                problems.append(f"{here}: {key} is not on by default")
        if not _depends_on_key_grant(body):
            problems.append(f"{here}: does not depend on the Cloud SQL agent's key grant")
    return problems


def check_audit_log(cfg: Config) -> list[str]:
    """Audit log buckets are locked; a sink routes the audit log name to them."""
    problems = []
    log_buckets = cfg.resources("google_logging_project_bucket_config")
    for t, n, body, f in log_buckets:
        if as_bool(attr(body, "locked")) is not True:
            problems.append(f"{where(t, n, f)}: log bucket retention is not locked")
    for t, n, body, f in cfg.resources("google_logging_project_sink"):
        destination = str(attr(body, "destination"))
        if not any(f"google_logging_project_bucket_config.{bn}" in destination for _, bn, _, _ in log_buckets):
            problems.append(f"{where(t, n, f)}: sink does not route to a locked log bucket of this module")
        if "logName" not in str(attr(body, "filter")):
            problems.append(f"{where(t, n, f)}: sink filter does not select the audit log name")
    return problems


def check_tenant_bindings(cfg: Config) -> list[str]:
    """On a tenant module: IAM on the tenant's bucket, key and secrets targets only resources
    of this module and names only this module's (tenant-named) service accounts or Google
    service agents; no authoritative bindings or policies that could drop or add others.
    On any other module or example: no IAM on a tenant module's resources at all, and grants on
    buckets and keys go only to Google service agents (or the storage log writer group)."""
    problems = []
    own_accounts = {n: b for _, n, b, _ in cfg.resources("google_service_account")}
    for t, n, body, f in cfg.resources():
        here = where(t, n, f)
        if AUTHORITATIVE_IAM.search(t) and t.startswith(("google_storage_bucket", "google_kms", "google_secret_manager")):
            problems.append(f"{here}: authoritative IAM on tenant data is not allowed")
        if "_iam_" in t and "module.tenant" in str(body):
            problems.append(f"{here}: grants on a tenant module's resources from outside the module")
    if cfg.is_tenant_module():
        for name, body in own_accounts.items():
            if "var.tenant_id" not in str(attr(body, "account_id")):
                problems.append(f"google_service_account.{name}: account_id is not named after var.tenant_id")
    for rtype, (target_key, target_type) in TENANT_DATA_IAM.items():
        own_targets = {n for _, n, _, _ in cfg.resources(target_type)}
        for t, n, body, f in cfg.resources(rtype):
            here = where(t, n, f)
            target = str(attr(body, target_key))
            m = re.search(rf"\$\{{{target_type}\.(\w+)", target)
            if not m or m.group(1) not in own_targets:
                problems.append(f"{here}: {target_key} {target!r} is not a {target_type} of this module")
            members = _members(cfg, body)
            for member in members:
                if SERVICE_AGENT_REFS.match(member):
                    continue
                sa = MODULE_SERVICE_ACCOUNT.match(member)
                if cfg.is_tenant_module() and sa and sa.group(1) in own_accounts:
                    continue
                if member == STORAGE_LOG_WRITER and attr(body, "role") == "roles/storage.objectCreator" and rtype == "google_storage_bucket_iam_member":
                    continue
                problems.append(f"{here}: member {member!r} is not one of this tenant's service accounts or a service agent")
    return problems


def _members(cfg: Config, body: dict) -> list[str]:
    member = clean(attr(body, "member"))
    if member == "${each.value}":
        source = attr(body, "for_each")
        m = _REF.match(str(source))
        if m and m.group(1) == "local":
            value = cfg.local(m.group(2))
            if isinstance(value, dict):
                return [clean(v[0] if _WRAPPED and isinstance(v, list) else v) for v in value.values()]
        return [f"<unresolved for_each member {source!r}>"]
    return [str(member)]


def check_variables(cfg: Config) -> list[str]:
    """variables.tf: alphabetical; each with description, type, nullable = false; non-bool ones
    with a validation. Outputs: a description each."""
    problems = []
    variables = cfg.named("variable")
    names = [n for n, _, _ in variables]
    if names != sorted(names):
        problems.append(f"{cfg.name}: variables are not in alphabetical order: {names}")
    for n, body, f in variables:
        if f != "variables.tf":
            problems.append(f"{f}: variable {n} is declared outside variables.tf")
        for key in ("description", "type"):
            if not attr(body, key):
                problems.append(f"{f}: variable {n} has no {key}")
        if as_bool(attr(body, "nullable")) is not False:
            problems.append(f"{f}: variable {n} is not nullable = false")
        if "bool" not in str(attr(body, "type")) and not blocks(body, "validation"):
            problems.append(f"{f}: variable {n} has no validation")
    for n, body, f in cfg.named("output"):
        if not attr(body, "description"):
            problems.append(f"{f}: output {n} has no description")
    return problems


def check_versions(cfg: Config) -> list[str]:
    """versions.tf pins Terraform and every provider between a lower and an upper bound."""
    problems = []
    found = False
    for fname, doc in cfg.docs.items():
        for tf in doc.get("terraform", []):
            found = True
            if fname != "versions.tf":
                problems.append(f"{fname}: terraform block outside versions.tf")
            req = str(attr(tf, "required_version"))
            if ">=" not in req or "<" not in req.replace("<=", ""):
                problems.append(f"{fname}: required_version {req!r} lacks lower and upper bounds")
            for providers in tf.get("required_providers", []):
                for pname, spec in providers.items():
                    spec = spec[0] if isinstance(spec, list) else spec
                    version = str(clean(spec.get("version")) if isinstance(spec, dict) else spec)
                    if ">=" not in version or "<" not in version.replace("<=", ""):
                        problems.append(f"{fname}: provider {pname} version {version!r} lacks lower and upper bounds")
    if not found:
        problems.append(f"{cfg.name}: no terraform block with version bounds")
    return problems


def check_scheduler(cfg: Config) -> list[str]:
    """Every scheduler job that calls HTTP signs its calls with an OIDC token."""
    problems = []
    for t, n, body, f in cfg.resources("google_cloud_scheduler_job"):
        http = block(body, "http_target")
        if http is not None:
            oidc = block(http, "oidc_token")
            if not oidc or not attr(oidc, "service_account_email"):
                problems.append(f"{where(t, n, f)}: HTTP target without an OIDC token")
    return problems


BROAD_ROLE = re.compile(r"^roles/(owner|editor|viewer|.*\.admin|.*[Aa]dmin)$")


def check_no_broad_roles(cfg: Config) -> list[str]:
    """No basic roles (owner, editor, viewer) and no admin roles are granted by the code."""
    problems = []
    for t, n, body, f in cfg.resources():
        if "_iam_" in t and BROAD_ROLE.match(str(attr(body, "role"))):
            problems.append(f"{where(t, n, f)}: broad role {attr(body, 'role')}")
    return problems


ALL_RESOURCE_CHECKS = (
    check_buckets,
    check_crypto_keys,
    check_no_public_members,
    check_push_subscriptions,
    check_cloud_run,
    check_topics,
    check_secrets,
    check_sql,
    check_audit_log,
    check_tenant_bindings,
    check_scheduler,
    check_no_broad_roles,
)


def check_all(cfg: Config) -> list[str]:
    """Every resource invariant at once."""
    problems = []
    for check in ALL_RESOURCE_CHECKS:
        problems += check(cfg)
    return problems


# ---------------------------------------------------------------- examples


def check_example(example: Config, modules_root: Path) -> list[str]:
    """Every module call of an example uses a local module, passes every required variable,
    passes no unknown argument, and literal raw retention stays <= 29 days."""
    problems = []
    calls = example.named("module")
    if not calls:
        problems.append(f"{example.name}: calls no module")
    for name, body, f in calls:
        source = attr(body, "source")
        target = (Path(example.name) / str(source)).resolve() if not str(source).startswith("/") else Path(source)
        if not str(source).startswith("../../modules/") or not target.is_dir():
            problems.append(f"{f}: module {name} source {source!r} is not a module of this repository")
            continue
        module = Config.from_dir(target)
        declared = module.variables()
        required = {v for v, b in declared.items() if "default" not in b}
        given = {k for k in body if not k.startswith("__")} - META_ARGUMENTS
        for missing in sorted(required - given):
            problems.append(f"{f}: module {name} misses required variable {missing}")
        for unknown in sorted(given - set(declared)):
            problems.append(f"{f}: module {name} passes unknown argument {unknown}")
        days = attr(body, "raw_retention_days")
        if isinstance(days, (int, float)) and not 1 <= days <= MAX_RAW_RETENTION_DAYS:
            problems.append(f"{f}: module {name} raw_retention_days = {days} is outside 1..29")
    return problems
