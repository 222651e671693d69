"""AirflowImage (eks stacks): the image's ECR repository, and the image built and pushed to it.

The repository keeps tags immutable, scans every push, is encrypted with the project key where
there is one (AES256 elsewhere) and keeps the last `KEEP_IMAGES` images. The image is built
from `images/eks/Dockerfile` with the versions of `versions.env` as build arguments, for the
architecture EKS Auto Mode's general-purpose node pool runs, and pushed with the registry's
short-lived ECR credentials (the password stays a secret).

Its tag is a content hash computed here, in Python, from exactly what the build sends: the
files `.dockerignore` lets through (the DAGs' requirements and `platform_ops`, not the DAG
files), the Dockerfile, the build arguments and the build's other inputs. A requirements
change makes a new tag and a new image; a DAG edit changes nothing. Because the repository's
tags are immutable, the tag must change whenever the provider would build again (it would
push the same tag with another digest otherwise, which ECR refuses): the provider rebuilds
when its own context hash (paths, contents and modes of the files sent, the Dockerfile) or
any input but the registry password changes, so the hash covers all of those, and the
provider is given paths relative to the program's working directory, so a checkout elsewhere
is no change.

The chart runs the image by digest (`image_ref`, `<repository url>@sha256:...`), never by tag.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from airflow_platform.config import Teardown
from airflow_platform.tagging import resource_tags
from airflow_platform.versions import REPO_ROOT, Versions

KEEP_IMAGES = 10
"""Images the repository keeps (the newest by push time): the running one and enough earlier
ones to roll back to. Older tagged images expire (ECR lifecycle policy)."""
PLATFORMS = (docker_build.Platform.LINUX_AMD64,)
"""What the image is built for: EKS Auto Mode's built-in general-purpose node pool runs amd64
only (Amazon EKS User Guide, "Enable or Disable Built-in NodePools")."""
DOCKERFILE = REPO_ROOT / "images" / "eks" / "Dockerfile"
"""The eks image's Dockerfile."""
PROGRAM_DIR = REPO_ROOT / "infra"
"""Where `pulumi up` runs the program and its providers (Pulumi.yaml's `main: infra/`): the
build context and Dockerfile are handed to the provider relative to it."""
TAG_LENGTH = 64
"""Hex digits of the content hash used as the image tag (the whole SHA-256)."""


def repository_name(stack: str) -> str:
    """`airflow-<stack>`: ECR names are unique per account and region, so they carry the stack."""
    return f"airflow-{stack}"


def build_args(versions: Versions) -> dict[str, str]:
    """The Dockerfile's build arguments: versions.env's values, nothing else."""
    return {
        "AIRFLOW_VERSION": versions.airflow,
        "AIRFLOW_PYTHON_VERSION": versions.python,
        "POSTGRES_CLIENT_MAJOR": str(versions.postgres_client_major),
    }


def lifecycle_policy(keep: int = KEEP_IMAGES) -> str:
    """ECR lifecycle policy JSON: expire tagged images beyond the newest `keep`.

    Only tagged images count: a push can be an image index whose platform manifest and build
    attestations are untagged children, which a rule over all images would count (and expire)
    on their own.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Keep the newest {keep} images",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": keep,
                    },
                    "action": {"type": "expire"},
                }
            ]
        },
        sort_keys=True,
    )


# --- .dockerignore, as Docker reads it ----------------------------------------------------
#
# A port of github.com/moby/patternmatcher (ignorefile.ReadAll and
# PatternMatcher.MatchesOrParentMatches), which BuildKit and the docker-build provider's
# context hash both use: patterns are cleaned paths relative to the context, `*` and `?` stay
# inside one path element, `**` crosses elements, a pattern that matches a parent directory
# matches everything under it, `!` re-includes, and the last matching pattern wins.


def read_ignore_patterns(text: str) -> list[str]:
    """Patterns of an ignore file: comments and blank lines dropped, each pattern trimmed,
    cleaned and made relative to the context (a leading `/` removed); `!` kept in front."""
    patterns = []
    for number, raw in enumerate(text.splitlines()):
        line = raw.removeprefix("\ufeff") if number == 0 else raw
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = _clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append(f"!{line}" if invert else line)
    return patterns


def _clean(path: str) -> str:
    """Go's filepath.Clean for slash-separated paths."""
    cleaned = posixpath.normpath(path)
    # normpath keeps a leading "//" (POSIX allows it a meaning); Clean does not.
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


@dataclass(frozen=True)
class _Pattern:
    text: str
    exclusion: bool

    def matches(self, path: str) -> bool:
        kind, value = _compile(self.text)
        if kind == "exact":
            return path == value
        if kind == "prefix":
            return path.startswith(value)
        if kind == "suffix":
            # `**/foo` also matches `foo` itself.
            return path.endswith(value) or (value.startswith("/") and path == value[1:])
        return re.fullmatch(value, path) is not None


@cache
def _compile(pattern: str) -> tuple[str, str]:
    """(kind, value) exactly as patternmatcher's Pattern.compile decides them (`/` paths):
    exact (the pattern), prefix (`foo/**`: the part before `**`), suffix (`**/foo`: the part
    after `**`) or regexp (the regular expression)."""
    regex, kind = "", "exact"
    i, token = 0, 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*" and pattern[i : i + 1] == "*":
            i += 1
            if pattern[i : i + 1] == "/":
                i += 1
            if i >= len(pattern):
                # `**` at the end accepts everything below, as .gitignore does.
                if kind == "exact":
                    kind = "prefix"
                else:
                    regex += ".*"
                    kind = "regexp"
            else:
                regex += "(.*/)?"
                kind = "regexp"
            if token == 0:
                kind = "suffix"
        elif ch == "*":
            regex += "[^/]*"
            kind = "regexp"
        elif ch == "?":
            regex += "[^/]"
            kind = "regexp"
        elif ch in ".+()|{}$":
            regex += "\\" + ch
        elif ch == "\\":
            if i < len(pattern):
                regex += "\\" + pattern[i]
                i += 1
                kind = "regexp"
            else:
                regex += "\\\\"
        elif ch in "[]":
            regex += ch
            kind = "regexp"
        else:
            regex += ch
        token += 1
    if kind == "prefix":
        return kind, pattern[:-2]
    if kind == "suffix":
        return kind, pattern[2:]
    if kind == "regexp":
        return kind, regex
    return kind, pattern


class IgnoreRules:
    """What a `.dockerignore` keeps out of the build context (patternmatcher.New, then
    MatchesOrParentMatches)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns: list[_Pattern] = []
        for raw in patterns:
            pattern = raw.strip()
            if not pattern:
                continue
            pattern = _clean(pattern)
            if pattern.startswith("!"):
                if len(pattern) == 1:
                    raise ValueError('illegal exclusion pattern: "!"')
                self._patterns.append(_Pattern(pattern[1:], True))
            else:
                self._patterns.append(_Pattern(pattern, False))

    def excludes(self, path: str) -> bool:
        """Whether the context-relative, slash-separated `path` is left out: the last pattern
        matching it or one of its parent directories decides."""
        parent = posixpath.dirname(path) or "."
        parent_dirs = [] if parent == "." else parent.split("/")
        parents = ["/".join(parent_dirs[: n + 1]) for n in range(len(parent_dirs))]
        matched = False
        for pattern in self._patterns:
            if pattern.exclusion != matched:
                continue
            if pattern.matches(path) or any(pattern.matches(p) for p in parents):
                matched = not pattern.exclusion
        return matched

    def may_include_under(self, directory: str) -> bool:
        """Whether some `!` pattern could re-include something under an excluded `directory`
        (else the walk skips it, as BuildKit does)."""
        dirs = directory.split("/")
        for pattern in self._patterns:
            if not pattern.exclusion:
                continue
            parts = pattern.text.split("/")
            if any("**" in part for part in parts[: len(dirs)]):
                return True
            deeper = len(parts) > len(dirs)
            if deeper and all(fnmatchcase(d, p) for d, p in zip(dirs, parts, strict=False)):
                return True
        return False


def ignore_file(context_dir: Path, dockerfile: Path) -> Path | None:
    """The ignore file the build uses: `<Dockerfile>.dockerignore` if present (BuildKit's
    per-Dockerfile file), else the context's `.dockerignore`, else none."""
    for candidate in (
        dockerfile.with_name(dockerfile.name + ".dockerignore"),
        context_dir / ".dockerignore",
    ):
        if candidate.is_file():
            return candidate
    return None


def context_files(context_dir: Path, dockerfile: Path = DOCKERFILE) -> list[str]:
    """The files the build sends (context-relative, sorted): regular files and symlinks that
    the ignore file lets through."""
    ignore = ignore_file(context_dir, dockerfile)
    rules = IgnoreRules(read_ignore_patterns(ignore.read_text()) if ignore else [])
    sent: list[str] = []
    for root, dirs, files in os.walk(context_dir):
        relative_root = Path(root).relative_to(context_dir).as_posix()
        prefix = "" if relative_root == "." else f"{relative_root}/"
        dirs[:] = sorted(
            d for d in dirs if not rules.excludes(prefix + d) or rules.may_include_under(prefix + d)
        )
        sent += [prefix + f for f in files if not rules.excludes(prefix + f)]
    return sorted(sent)


def content_hash(context_dir: Path, dockerfile: Path, inputs: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of what decides the image: every file the build sends (context-relative
    path, mode and content), the Dockerfile (its path in the context and its content), and the
    image's other `inputs` (build arguments, platforms, locations, flags: JSON-serialisable).
    The same for the same content wherever the checkout is."""
    digest = hashlib.sha256()
    header = {"dockerfile": dockerfile.relative_to(context_dir).as_posix(), "inputs": inputs}
    digest.update(json.dumps(header, sort_keys=True).encode())
    digest.update(hashlib.sha256(dockerfile.read_bytes()).digest())
    for relative in context_files(context_dir, dockerfile):
        path = context_dir / relative
        mode = stat.filemode(path.lstat().st_mode)
        content = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        digest.update(f"{relative}\0{mode}\0".encode())
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()[:TAG_LENGTH]


def image_inputs(args: AirflowImageArgs) -> dict[str, Any]:
    """The image's build inputs, bar the registry credentials and the tag: what the provider
    rebuilds on, hashed into the tag and handed to the provider alike."""
    return {
        "context": {"location": _relative(args.context_dir, args.working_dir)},
        "dockerfile": {"location": _relative(args.dockerfile, args.working_dir)},
        "build_args": build_args(args.versions),
        "platforms": list(PLATFORMS),
        "push": True,
        "build_on_preview": args.build_on_preview,
    }


@dataclass(frozen=True)
class AirflowImageArgs:
    """Inputs of AirflowImage."""

    stack: str
    """Stack name, part of the repository's name."""
    versions: Versions
    """The pinned versions (versions.env), passed as build arguments."""
    teardown: Teardown
    """Force-delete the repository with its images on destroy (ephemeral stacks only)."""
    tags: Mapping[str, str]
    """The stack's tags."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Project key for the repository's encryption (prod); None for AES256."""
    keep_images: int = KEEP_IMAGES
    """Images the lifecycle policy keeps."""
    context_dir: Path = REPO_ROOT
    """The build context (the repository root; `.dockerignore` decides what is sent)."""
    dockerfile: Path = DOCKERFILE
    """The Dockerfile, inside `context_dir`."""
    working_dir: Path = PROGRAM_DIR
    """The directory the provider resolves relative paths from (see PROGRAM_DIR)."""
    build_on_preview: bool = False
    """Build during `pulumi preview` too. Off: previews run where there is no Docker engine
    (a pull request's plan), and a preview's build is never pushed; `make lint`'s hadolint and
    tests/test_image.py check the Dockerfile instead."""


class AirflowImage(pulumi.ComponentResource):
    """The eks image's ECR repository, its lifecycle policy, and the image pushed to it.

    Outputs: `image_ref` (`<repository url>@<digest>`, what the chart runs), `image_tag`
    (the content hash), `repository_url`, `repository_name`, `repository_arn`.
    """

    image_ref: pulumi.Output[str]
    image_tag: str
    repository_url: pulumi.Output[str]
    repository_name: pulumi.Output[str]
    repository_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AirflowImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("airflow-platform:aws:AirflowImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        repository = aws.ecr.Repository(
            f"{name}-repository",
            name=repository_name(args.stack),
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[self._encryption(args.kms_key_arn)],
            # Only ephemeral stacks delete a repository that still holds images.
            force_delete=args.teardown.force_destroy,
            tags=resource_tags(args.tags, f"{name}-repository", {"purpose": "airflow-image"}),
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=lifecycle_policy(args.keep_images),
            opts=child,
        )
        # Short-lived (12 h) credentials for the push. The provider ignores a changed password
        # when it diffs, so a new token is no rebuild.
        token = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOptions(parent=self)
        )
        inputs = image_inputs(args)
        self.image_tag = content_hash(args.context_dir, args.dockerfile, inputs)
        image = docker_build.Image(
            f"{name}-image",
            **inputs,
            registries=[
                {
                    "address": repository.repository_url.apply(lambda url: url.split("/")[0]),
                    "username": token.user_name,
                    "password": pulumi.Output.secret(token.password),
                }
            ],
            tags=[repository.repository_url.apply(lambda url: f"{url}:{self.image_tag}")],
            opts=child,
        )
        self.repository_url = repository.repository_url
        self.repository_name = repository.name
        self.repository_arn = repository.arn
        self.image_ref = pulumi.Output.all(repository.repository_url, image.digest).apply(
            lambda parts: f"{parts[0]}@{parts[1]}"
        )
        self.register_outputs(
            {
                "image_ref": self.image_ref,
                "image_tag": self.image_tag,
                "repository_url": self.repository_url,
                "repository_name": self.repository_name,
                "repository_arn": self.repository_arn,
            }
        )

    @staticmethod
    def _encryption(kms_key_arn: pulumi.Input[str] | None) -> dict[str, pulumi.Input[str]]:
        # Fixed at creation: changing it replaces the repository (ForceNew).
        if kms_key_arn is None:
            return {"encryption_type": "AES256"}
        return {"encryption_type": "KMS", "kms_key": kms_key_arn}


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()
