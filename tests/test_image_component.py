"""AirflowImage under each tier: the ECR repository, its lifecycle policy, and the image whose
tag is the content hash of exactly what the build sends (and whose ref is by digest)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pulumi
import pytest

from airflow_platform.components.image import (
    DOCKERFILE,
    KEEP_IMAGES,
    AirflowImage,
    AirflowImageArgs,
    IgnoreRules,
    build_args,
    content_hash,
    context_files,
    image_inputs,
    repository_name,
)
from airflow_platform.config import Tier
from airflow_platform.plan.mocks import PLACEHOLDER_ACCOUNT_ID, PlanMocks
from airflow_platform.plan.project import SECRET_PLACEHOLDER
from airflow_platform.tagging import stack_tags
from airflow_platform.versions import Versions, versions
from tests.conftest import REGION, ROOT, TIER_STACKS, settings_for

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
IMAGE = "docker-build:index:Image"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/test"
REGISTRY = f"{PLACEHOLDER_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com"


def _args(settings, context_dir=ROOT, dockerfile=DOCKERFILE, kms_key_arn=None, **extra):
    return AirflowImageArgs(
        stack=settings.stack,
        versions=versions(),
        teardown=settings.teardown,
        tags=stack_tags(settings),
        kms_key_arn=kms_key_arn,
        context_dir=context_dir,
        dockerfile=dockerfile,
        **extra,
    )


def _build(settings, context_dir=ROOT, dockerfile=DOCKERFILE, kms_key_arn=None, **extra):
    def build():
        image = AirflowImage(
            "image", _args(settings, context_dir, dockerfile, kms_key_arn, **extra)
        )
        pulumi.export("imageRef", image.image_ref)
        pulumi.export("repositoryUrl", image.repository_url)
        pulumi.export("repositoryName", image.repository_name)

    return build


def _declared(declare, tier, **kwargs):
    settings = settings_for(tier)
    key = KEY_ARN if settings.config.encryption.customer_managed_key else None
    return settings, declare(_build(settings, kms_key_arn=key, **kwargs), TIER_STACKS[tier])


def _image_tag(declared) -> str:
    (tag,) = declared.one(IMAGE, "image-image").inputs["tags"]
    return tag


def _copy_context(tmp_path: Path) -> Path:
    """A copy of what the build can see: .dockerignore, the Dockerfile, dags/ and dbt's pins."""
    context = tmp_path / "context"
    shutil.copytree(ROOT / "dags", context / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    (context / "dbt").mkdir()
    shutil.copy2(ROOT / "dbt" / "requirements.txt", context / "dbt" / "requirements.txt")
    (context / "images" / "eks").mkdir(parents=True)
    shutil.copy2(DOCKERFILE, context / "images" / "eks" / "Dockerfile")
    shutil.copy2(ROOT / ".dockerignore", context / ".dockerignore")
    return context


# --- the repository, by tier -----------------------------------------------------------------


@pytest.mark.parametrize("tier", list(Tier))
def test_repository_is_immutable_scanned_and_named_after_the_stack(declare, tier):
    settings, declared = _declared(declare, tier)
    repository = declared.one(REPOSITORY, "image-repository").inputs
    assert repository["name"] == repository_name(settings.stack) == f"airflow-{settings.stack}"
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["tags"]["stack"] == settings.stack
    assert repository["tags"]["tier"] == tier.value


@pytest.mark.parametrize("tier", list(Tier))
def test_repository_uses_the_project_key_only_where_there_is_one(declare, tier):
    settings, declared = _declared(declare, tier)
    (encryption,) = declared.one(REPOSITORY, "image-repository").inputs["encryptionConfigurations"]
    if settings.config.encryption.customer_managed_key:
        assert encryption == {"encryptionType": "KMS", "kmsKey": KEY_ARN}
    else:
        assert encryption == {"encryptionType": "AES256"}
    assert (tier is Tier.PROD) == settings.config.encryption.customer_managed_key


@pytest.mark.parametrize("tier", list(Tier))
def test_only_ephemeral_stacks_force_delete_the_repository(declare, tier):
    _, declared = _declared(declare, tier)
    repository = declared.one(REPOSITORY, "image-repository")
    assert repository.inputs["forceDelete"] is (tier is Tier.EPHEMERAL)


@pytest.mark.parametrize("tier", list(Tier))
def test_lifecycle_policy_keeps_the_newest_images(declare, tier):
    settings, declared = _declared(declare, tier)
    lifecycle = declared.one(LIFECYCLE, "image-lifecycle").inputs
    assert lifecycle["repository"] == repository_name(settings.stack)
    (rule,) = json.loads(lifecycle["policy"])["rules"]
    assert rule["selection"] == {
        "tagStatus": "tagged",
        "tagPatternList": ["*"],
        "countType": "imageCountMoreThan",
        "countNumber": KEEP_IMAGES,
    }
    assert rule["action"] == {"type": "expire"}


def test_lifecycle_policy_keeps_what_it_is_told(declare):
    declared = declare(_build(settings_for(Tier.STAGING), keep_images=3), "staging")
    (rule,) = json.loads(declared.one(LIFECYCLE, "image-lifecycle").inputs["policy"])["rules"]
    assert rule["selection"]["countNumber"] == 3


def test_the_component_creates_no_other_resources(declare):
    _, declared = _declared(declare, Tier.PROD)
    custom = sorted(r.type for r in declared.run.resources if r.custom)
    assert custom == sorted([IMAGE, LIFECYCLE, REPOSITORY])


# --- the image ---------------------------------------------------------------------------------


def test_the_image_is_built_from_the_eks_dockerfile_with_versions_env(declare):
    _, declared = _declared(declare, Tier.STAGING)
    image = declared.one(IMAGE, "image-image").inputs
    assert image["buildArgs"] == build_args(versions())
    assert image["platforms"] == ["linux/amd64"]
    assert image["push"] is True
    assert image["buildOnPreview"] is False
    # Relative to infra/, where `pulumi up` runs the program and its providers.
    assert image["context"] == {"location": ".."}
    assert image["dockerfile"] == {"location": "../images/eks/Dockerfile"}


@pytest.mark.parametrize("tier", list(Tier))
def test_the_image_tag_is_the_content_hash(declare, tier):
    settings, declared = _declared(declare, tier)
    expected = content_hash(ROOT, DOCKERFILE, image_inputs(_args(settings)))
    assert re.fullmatch(r"[0-9a-f]{64}", expected)
    assert _image_tag(declared) == f"{REGISTRY}/airflow-{settings.stack}:{expected}"
    assert declared.run.outputs["repositoryUrl"] == f"{REGISTRY}/airflow-{settings.stack}"
    assert declared.run.outputs["repositoryName"] == f"airflow-{settings.stack}"


def test_the_image_ref_is_by_digest(declare):
    _, declared = _declared(declare, Tier.PROD)
    ref = declared.run.outputs["imageRef"]
    assert re.fullmatch(rf"{re.escape(REGISTRY)}/airflow-prod@sha256:[0-9a-f]{{64}}", ref), ref
    assert ":" not in ref.split("/")[-1].split("@")[0], "the ref names no tag"


def test_the_registry_password_is_a_secret(declare):
    _, declared = _declared(declare, Tier.PROD)
    registries = declared.one(IMAGE, "image-image").inputs["registries"]
    # Pulumi marks the whole list secret (its password is): never the value.
    assert registries == SECRET_PLACEHOLDER or registries[0]["password"] == SECRET_PLACEHOLDER
    # The mocks' ECR password appears nowhere in what the run recorded.
    password = PlanMocks(REGION)._ecr_authorization_token({})["password"]
    recorded = json.dumps([r.inputs for r in declared.run.resources])
    assert password not in recorded + json.dumps(declared.run.outputs)


# --- what changes the tag ----------------------------------------------------------------------


def test_a_requirements_change_makes_a_new_tag_and_a_dag_edit_does_not(declare, tmp_path):
    context = _copy_context(tmp_path)
    dockerfile = context / "images" / "eks" / "Dockerfile"
    settings = settings_for(Tier.STAGING)

    def tag() -> str:
        return _image_tag(declare(_build(settings, context, dockerfile), "staging"))

    before = tag()

    dag = context / "dags" / "metadata_backup.py"
    dag.write_text(dag.read_text() + "\n# an edit\n")
    (context / "dags" / "new_dag.py").write_text("# a new DAG file\n")
    assert tag() == before

    requirements = context / "dags" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "apache-airflow-providers-http\n")
    assert tag() != before


@pytest.mark.parametrize(
    ("change", "rebuilds"),
    [
        ("dag_file", False),
        ("new_dag_file", False),
        ("dags_readme", False),
        ("pycache", False),
        ("outside_dags", False),
        ("requirements", True),
        ("platform_ops", True),
        ("platform_ops_new_module", True),
        ("platform_ops_mode", True),
        ("dockerfile", True),
        ("dockerignore_lets_more_in", True),
    ],
)
def test_content_hash_changes_exactly_with_what_the_build_sends(tmp_path, change, rebuilds):
    context = _copy_context(tmp_path)
    dockerfile = context / "images" / "eks" / "Dockerfile"
    args = {"build_args": build_args(versions())}
    before = content_hash(context, dockerfile, args)
    edits = {
        "dag_file": lambda: _append(context / "dags" / "log_cleanup.py", "# edit\n"),
        "new_dag_file": lambda: (context / "dags" / "another.py").write_text("x = 1\n"),
        "dags_readme": lambda: _append(context / "dags" / "README.md", "more\n"),
        "pycache": lambda: _write(context / "dags" / "platform_ops" / "__pycache__" / "a.pyc"),
        "outside_dags": lambda: _write(context / "bench" / "new.py"),
        "requirements": lambda: _append(context / "dags" / "requirements.txt", "x\n"),
        "platform_ops": lambda: _append(context / "dags" / "platform_ops" / "alerts.py", "#\n"),
        "platform_ops_new_module": lambda: _write(context / "dags" / "platform_ops" / "new.py"),
        "platform_ops_mode": lambda: (context / "dags" / "platform_ops" / "s3url.py").chmod(0o755),
        "dockerfile": lambda: _append(dockerfile, "LABEL x=y\n"),
        "dockerignore_lets_more_in": lambda: _append(context / ".dockerignore", "!bench\n"),
    }
    if change == "dockerignore_lets_more_in":
        _write(context / "bench" / "b.py")
        before = content_hash(context, dockerfile, args)
    edits[change]()
    assert (content_hash(context, dockerfile, args) != before) is rebuilds


def test_any_other_build_input_changes_the_tag():
    # The provider builds (and pushes the tag) again when any input but the registry password
    # changes; an immutable tag must then be a new one.
    settings = settings_for(Tier.STAGING)
    pinned = versions()
    bumped = Versions(pinned.airflow, pinned.python, pinned.postgres_client_major + 1)
    variants = [
        _args(settings),
        _args(settings, build_on_preview=True),
        _args(settings, working_dir=ROOT),
        dataclasses.replace(_args(settings), versions=bumped),
    ]
    tags = {content_hash(ROOT, DOCKERFILE, image_inputs(v)) for v in variants}
    assert len(tags) == len(variants)


def test_content_hash_is_the_same_wherever_the_checkout_is(tmp_path):
    first = _copy_context(tmp_path / "a")
    second = _copy_context(tmp_path / "b")
    args = {"build_args": build_args(versions())}
    hashes = {
        content_hash(context, context / "images/eks/Dockerfile", args)
        for context in (first, second, ROOT)
    }
    assert len(hashes) == 1


def test_a_per_dockerfile_ignore_file_takes_precedence(tmp_path):
    context = _copy_context(tmp_path)
    dockerfile = context / "images" / "eks" / "Dockerfile"
    assert "dags/requirements.txt" in context_files(context, dockerfile)
    dockerfile.with_name("Dockerfile.dockerignore").write_text("*\n!dags/platform_ops\n")
    assert "dags/requirements.txt" not in context_files(context, dockerfile)


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def _write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("new\n")


# --- .dockerignore matching, against moby/patternmatcher's own test table -------------------------
#
# TestMatches in github.com/moby/patternmatcher patternmatcher_test.go
# @ 1d6a3f429bf0541b7f69372adecc787fabc0c701, MatchesOrParentMatches subtest: (pattern, path,
# matches). "exact" and "inexact" cases both match there.

PATTERN_CASES = [
    ("**", "file", True),
    ("**", "file/", True),
    ("**/", "file", True),
    ("**/", "file/", True),
    ("**", "/", True),
    ("**/", "/", True),
    ("**", "dir/file", True),
    ("**/", "dir/file", True),
    ("**", "dir/file/", True),
    ("**/", "dir/file/", True),
    ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True),
    ("dir/**", "dir/dir2/file/", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\\\", "a\\", True),
    ("a\\*b", "a*b", True),
]
MULTI_PATTERN_CASES = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
]


@pytest.mark.parametrize(("pattern", "path", "matches"), PATTERN_CASES)
def test_ignore_patterns_match_as_docker_matches_them(pattern, path, matches):
    assert IgnoreRules([pattern]).excludes(path) is matches


@pytest.mark.parametrize(("patterns", "path", "matches"), MULTI_PATTERN_CASES)
def test_ignore_exceptions_apply_in_order(patterns, path, matches):
    assert IgnoreRules(patterns).excludes(path) is matches
