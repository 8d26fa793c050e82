"""scripts/deploy.sh against stub terraform, gcloud and docker binaries that log their calls:
the phases run in order, missing secrets stop the deploy, missing tools are named."""

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import TERRAFORM

SCRIPT = TERRAFORM.parent / "scripts" / "deploy.sh"
EXAMPLE = TERRAFORM / "examples" / "two-tenants"

PLAN = {
    "resource_changes": [
        {
            "address": 'module.tenant["acme"].google_secret_manager_secret.this["SLACK_BOT_TOKEN"]',
            "type": "google_secret_manager_secret",
            "change": {"actions": ["create"], "after": {"project": "p1", "secret_id": "bacca-acme-slack-bot-token"}},
        },
        {
            "address": 'module.tenant["acme"].google_secret_manager_secret.this["DD_API_KEY"]',
            "type": "google_secret_manager_secret",
            "change": {"actions": ["no-op"], "after": {"project": "p1", "secret_id": "bacca-acme-dd-api-key"}},
        },
        {
            "address": "module.platform.google_artifact_registry_repository.images",
            "type": "google_artifact_registry_repository",
            "change": {
                "actions": ["create"],
                "after": {"project": "p1", "location": "europe-west1", "repository_id": "bacca", "format": "DOCKER"},
            },
        },
    ]
}

STUB = """#!/usr/bin/env bash
echo "{name} $*" >>"$STUB_LOG"
{body}
exit 0
"""

BODIES = {
    "terraform": 'if [ "$2" = show ]; then cat "$STUB_PLAN"; fi',
    # A secret "has a version" when its name is listed in $STUB_SECRETS_WITH_VERSIONS.
    "gcloud": (
        'if [ "$1 $2 $3" = "secrets versions list" ]; then\n'
        '  case " $STUB_SECRETS_WITH_VERSIONS " in *" $4 "*) echo "projects/p1/secrets/$4/versions/1";; esac\n'
        "fi\n"
        'if [ "$1 $2 $3" = "artifacts docker images" ]; then exit 1; fi'
    ),
    "docker": "",
}


def make_stubs(tmp_path: Path, tools=("terraform", "gcloud", "docker")) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in tools:
        path = bindir / name
        path.write_text(STUB.format(name=name, body=BODIES[name]))
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return bindir


def run(tmp_path, bindir, *args, secrets_with_versions=""):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    log = tmp_path / "calls.log"
    env = {
        "PATH": f"{bindir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "STUB_LOG": str(log),
        "STUB_PLAN": str(plan),
        "STUB_SECRETS_WITH_VERSIONS": secrets_with_versions,
    }
    proc = subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return proc, calls


@pytest.fixture(autouse=True)
def need_python_on_usr_bin():
    if not (Path("/usr/bin/python3").exists() or Path("/bin/python3").exists()):
        pytest.skip("python3 is not in /usr/bin or /bin (the stub PATH)")


def test_help_exits_zero_and_documents_options(tmp_path):
    proc, _ = run(tmp_path, make_stubs(tmp_path), "--help")
    assert proc.returncode == 0
    for option in ("--project", "--tag", "--skip-build", "--plan", "--auto-approve"):
        assert option in proc.stdout


def test_full_deploy_runs_the_phases_in_order(tmp_path):
    bindir = make_stubs(tmp_path)
    proc, calls = run(
        tmp_path, bindir, "--project", "p1", "--tag", "abc123", "--auto-approve", str(EXAMPLE),
        secrets_with_versions="bacca-acme-slack-bot-token bacca-acme-dd-api-key",
    )
    assert proc.returncode == 0, proc.stderr
    tf = [c for c in calls if c.startswith("terraform")]
    assert tf[0].startswith(f"terraform -chdir={EXAMPLE} init")
    assert " plan " in tf[1] and "-var image_tag=abc123" in tf[1] and "-var project_id=p1" in tf[1]
    assert " show -json " in tf[2]
    assert " apply " in tf[3] and "-auto-approve" in tf[3]
    assert '-target=module.tenant["acme"].google_secret_manager_secret.this["SLACK_BOT_TOKEN"]' in tf[3]
    assert "-target=module.platform.google_artifact_registry_repository.images" in tf[3]
    assert "DD_API_KEY" not in tf[3]  # already exists: not targeted
    assert " apply " in tf[4] and "-target" not in tf[4]
    builds = [c for c in calls if c.startswith("docker build")]
    assert [b.split("--target ")[1].split()[0] for b in builds] == ["fetch", "anonymize", "expire"]
    assert all(f"-f {TERRAFORM.parent}/Dockerfile" in b for b in builds)
    pushes = [c for c in calls if c.startswith("docker push")]
    assert pushes == [f"docker push europe-west1-docker.pkg.dev/p1/bacca/bacca-{fn}:abc123" for fn in ("fetch", "anonymize", "expire")]
    # images are pushed before the final apply
    assert calls.index(pushes[-1]) < calls.index(tf[4])


def test_missing_secret_version_stops_before_images_and_services(tmp_path):
    bindir = make_stubs(tmp_path)
    proc, calls = run(tmp_path, bindir, "--tag", "abc123", str(EXAMPLE), secrets_with_versions="bacca-acme-dd-api-key")
    assert proc.returncode == 3
    assert "gcloud secrets versions add bacca-acme-slack-bot-token --project p1" in proc.stderr
    assert not [c for c in calls if c.startswith(("docker build", "docker push"))]
    assert len([c for c in calls if c.startswith("terraform") and " apply " in c]) == 1  # the targeted one only


def test_plan_only_changes_nothing(tmp_path):
    proc, calls = run(tmp_path, make_stubs(tmp_path), "--plan", "--tag", "abc123", str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert not [c for c in calls if " apply " in c or c.startswith("docker")]


@pytest.mark.parametrize("missing", ["terraform", "gcloud", "docker"])
def test_missing_tool_is_named(tmp_path, missing):
    bindir = make_stubs(tmp_path, tools=[t for t in ("terraform", "gcloud", "docker") if t != missing])
    if any((Path(d) / missing).exists() for d in ("/usr/bin", "/bin")):
        pytest.skip(f"{missing} is installed in /usr/bin or /bin")
    proc, calls = run(tmp_path, bindir, "--tag", "abc123", str(EXAMPLE))
    assert proc.returncode == 1
    assert f"'{missing}' is required but not on PATH" in proc.stderr
    assert calls == []


def test_directory_is_required(tmp_path):
    proc, _ = run(tmp_path, make_stubs(tmp_path))
    assert proc.returncode == 1
    assert "missing the Terraform directory" in proc.stderr
