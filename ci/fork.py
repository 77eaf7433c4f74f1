#!/usr/bin/env python3
"""Polaroid's patch-queue tool: the Polars fork as pinned upstream + patches/.

    sync              materialize polars-fork/crates from the pin and apply the queue
    check             validate the queue (series, names, headers, zero-fuzz apply)
    export            turn commits in polars-fork/crates back into patches/
    rebase --to VER   replay the queue onto another upstream release
    rebase-continue   resume a rebase after resolving a conflict
    rebase-abort      give up a rebase and restore the previous tree
    clean-cache       empty the pristine-release cache (~/.cache/polaroid)
    test-crates [C..] upstream's own tests of the patched crates, on the patched tree

The materialized tree is a git repository (polars-fork/crates/.git): one commit
holds the pristine upstream sources (tag `upstream`) and each patch of the
series is one commit on top. Git is the engine for export and rebase, as in
`gbp pq`. Only the standard library is used, so a fresh machine needs nothing
beyond python3, git and cargo.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

# Bump when the materialized layout changes, so old stamps are invalidated.
TOOL_VERSION = "1"

UPSTREAM_ROOT_CRATE = "polars"
# Never materialized: the PyO3 bindings crate is exactly what the fork removes.
EXCLUDED_CRATES = {"polars-python"}

PATCH_NAME_RE = re.compile(r"^(\d{4})-([a-z0-9]+(?:-[a-z0-9]+)*)\.patch$")
REQUIRED_HEADERS = ("Description", "Author", "Forwarded", "Last-Update")
HEADER_RE = re.compile(r"^([A-Za-z][A-Za-z-]*):[ \t]?(.*)$")
DIFF_START_RE = re.compile(r"^(---\n|diff --git |Index: )", re.M)

PATCH_BLOCK_BEGIN = "# BEGIN polars-fork crates (maintained by ci/fork.py; do not edit by hand)"
PATCH_BLOCK_END = "# END polars-fork crates"
WORKSPACE_POLARS_RE = re.compile(r'^(polars\s*=\s*\{\s*version\s*=\s*")=?([0-9][^"]*)(")', re.M)

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "polaroid-fork",
    "GIT_AUTHOR_EMAIL": "fork@polaroid.invalid",
    "GIT_COMMITTER_NAME": "polaroid-fork",
    "GIT_COMMITTER_EMAIL": "fork@polaroid.invalid",
    # Fixed dates keep the scratch history reproducible.
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}


class ForkError(Exception):
    """A problem the maintainer has to act on; printed without a traceback."""


# --------------------------------------------------------------------------- paths


@dataclass
class Project:
    root: Path

    @property
    def fork_dir(self) -> Path:
        return self.root / "polars-fork"

    @property
    def pin_file(self) -> Path:
        return self.fork_dir / "UPSTREAM"

    @property
    def tree(self) -> Path:
        return self.fork_dir / "crates"

    @property
    def stamp_file(self) -> Path:
        return self.fork_dir / ".stamp"

    @property
    def cache_dir(self) -> Path:
        # Published releases never change, so one cache serves every checkout
        # and survives `cargo clean` (it is not under target/).
        # POLAROID_CACHE_DIR moves it; `make fork-clean-cache` empties it.
        base = os.environ.get("POLAROID_CACHE_DIR")
        if base:
            return Path(base) / "polars-pristine"
        xdg = os.environ.get("XDG_CACHE_HOME")
        return (Path(xdg) if xdg else Path.home() / ".cache") / "polaroid" / "polars-pristine"

    @property
    def rebase_state(self) -> Path:
        return self.fork_dir / ".rebase-state.json"

    @property
    def patches_dir(self) -> Path:
        return self.root / "patches"

    @property
    def series_file(self) -> Path:
        return self.patches_dir / "series"

    @property
    def cargo_toml(self) -> Path:
        return self.root / "Cargo.toml"

    def pin(self) -> str:
        """The pinned upstream release, e.g. `0.55.2` (file content: `polars 0.55.2`)."""
        text = self.pin_file.read_text().strip()
        m = re.fullmatch(r"polars\s+([0-9]+\.[0-9]+\.[0-9]+\S*)", text)
        if not m:
            raise ForkError(f"{self.pin_file}: expected one line `polars X.Y.Z`, found {text!r}")
        return m.group(1)

    def write_pin(self, version: str) -> None:
        self.pin_file.write_text(f"polars {version}\n")


# --------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(f"fork: {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], cwd: Path | None = None, check: bool = True, env: dict | None = None,
        capture: bool = True) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = subprocess.run(cmd, cwd=cwd, env=full_env, text=True,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.PIPE if capture else None)
    if check and proc.returncode != 0:
        detail = (proc.stderr or "") + (proc.stdout or "")
        raise ForkError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{detail.strip()}")
    return proc


def git(tree: Path, *args: str, check: bool = True, identity: bool = True) -> str:
    env = dict(GIT_IDENTITY) if identity else {}
    # The scratch repo must not pick up the user's hooks, signing or templates.
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_EDITOR": "true", "GIT_TERMINAL_PROMPT": "0"})
    cmd = ["git", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false",
           "-c", "core.quotepath=false", "-c", "init.defaultBranch=queue", *args]
    return run(cmd, cwd=tree, check=check, env=env).stdout


def sha256_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes() if p.exists() else b"<missing>")
        h.update(b"\0")
    return h.hexdigest()


# --------------------------------------------------------------------------- series


@dataclass
class Patch:
    name: str
    path: Path

    @property
    def number(self) -> int:
        return int(self.name[:4])

    @property
    def slug(self) -> str:
        return PATCH_NAME_RE.match(self.name).group(2)

    def text(self) -> str:
        return self.path.read_text()

    def header_text(self) -> str:
        text = self.text()
        m = DIFF_START_RE.search(text)
        return text[: m.start()] if m else text

    def diff_text(self) -> str:
        text = self.text()
        m = DIFF_START_RE.search(text)
        if not m:
            return ""
        return text[m.end():] if m.group(0) == "---\n" else text[m.start():]

    def headers(self) -> dict[str, str]:
        """DEP-3 fields; continuation lines (leading space) extend the previous field."""
        fields: dict[str, str] = {}
        last = None
        for line in self.header_text().splitlines():
            if line.startswith((" ", "\t")) and last:
                fields[last] += "\n" + line.strip()
                continue
            m = HEADER_RE.match(line)
            if m:
                last = m.group(1)
                fields[last] = m.group(2).strip()
            elif line.strip() == "":
                last = None
        return fields


def read_series(project: Project) -> list[str]:
    if not project.series_file.exists():
        raise ForkError(f"{project.series_file} is missing")
    names = []
    for raw in project.series_file.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


def series_patches(project: Project) -> list[Patch]:
    return [Patch(n, project.patches_dir / n) for n in read_series(project)]


def queue_stamp(project: Project) -> str:
    files = [project.pin_file, project.series_file]
    files += [p.path for p in series_patches(project)]
    return TOOL_VERSION + ":" + sha256_files(files)


# --------------------------------------------------------------------------- upstream download


def cargo_home() -> Path:
    return Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))


def _polars_deps(manifest: Path, version: str) -> set[str]:
    """polars-* crates of the same release that a manifest depends on (any section)."""
    data = tomllib.loads(manifest.read_text())
    tables = [data.get(k, {}) for k in ("dependencies", "build-dependencies")]
    for target in data.get("target", {}).values():
        tables += [target.get(k, {}) for k in ("dependencies", "build-dependencies")]
    found = set()
    for table in tables:
        for key, spec in table.items():
            if not isinstance(spec, dict):
                spec = {"version": spec}
            name = spec.get("package", key)
            req = str(spec.get("version", "")).lstrip("=^~ ")
            if name.startswith("polars") and req == version and name not in EXCLUDED_CRATES:
                found.add(name)
    return found


def download_release(version: str, dest: Path) -> list[str]:
    """Materialize every polars-* crate of `version` into dest/<crate> from crates.io.

    Cargo resolves and downloads (so the registry, mirrors and auth configured
    for cargo apply); the sources are unpacked from cargo's own `.crate`
    archives, which are the published bytes. Returns the crate names.
    """
    wanted = {UPSTREAM_ROOT_CRATE}
    with tempfile.TemporaryDirectory(prefix="polaroid-fetch-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "src").mkdir()
        (tmpdir / "src" / "lib.rs").write_text("")
        while True:
            deps = "\n".join(f'{n} = {{ version = "={version}", default-features = false }}'
                             for n in sorted(wanted))
            (tmpdir / "Cargo.toml").write_text(
                '[package]\nname = "polaroid-fetch"\nversion = "0.0.0"\nedition = "2021"\n'
                f"[dependencies]\n{deps}\n[workspace]\n")
            log(f"resolving polars {version} with cargo ({len(wanted)} crates so far)")
            out = run(["cargo", "metadata", "--format-version", "1"], cwd=tmpdir,
                      env={"CARGO_TARGET_DIR": str(tmpdir / "target")}).stdout
            meta = json.loads(out)
            by_name = {p["name"]: p for p in meta["packages"] if p["version"] == version}
            missing = wanted - by_name.keys()
            if missing:
                raise ForkError(f"crates.io has no {sorted(missing)} at version {version}")
            grown = set(wanted)
            for name in wanted:
                grown |= _polars_deps(Path(by_name[name]["manifest_path"]), version)
            if grown == wanted:
                break
            wanted = grown

        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for name in sorted(wanted):
            manifest = Path(by_name[name]["manifest_path"])
            # .../registry/src/<index>/<name>-<ver>/Cargo.toml -> .../registry/cache/<index>/<name>-<ver>.crate
            index_dir = manifest.parent.parent
            archive = index_dir.parent.parent / "cache" / index_dir.name / f"{name}-{version}.crate"
            if not archive.exists():
                raise ForkError(f"cargo did not leave {archive}; cannot unpack {name} {version}")
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(dest, filter="data")
            (dest / f"{name}-{version}").rename(dest / name)
    return sorted(wanted)


def pristine(project: Project, version: str) -> Path:
    """A read-only pristine copy of the release, cached in the user's cache directory."""
    target = project.cache_dir / version
    marker = target / ".complete"
    if not marker.exists():
        project.cache_dir.mkdir(parents=True, exist_ok=True)
        # A private scratch name, so two checkouts filling the cache at once
        # cannot unpack into each other; the rename publishes it whole.
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=project.cache_dir)) / "release"
        try:
            crates = download_release(version, tmp)
            (tmp / ".complete").write_text("\n".join(crates) + "\n")
            if not marker.exists():
                if target.exists():
                    shutil.rmtree(target)
                tmp.rename(target)
        finally:
            shutil.rmtree(tmp.parent, ignore_errors=True)
    return target


def pristine_crates(path: Path) -> list[str]:
    return (path / ".complete").read_text().split()


def copy_release(src: Path, dest: Path) -> None:
    for name in pristine_crates(src):
        shutil.copytree(src / name, dest / name, symlinks=True)


# --------------------------------------------------------------------------- applying


def parse_conflicting_hunks(stderr: str) -> str:
    """Summarize `git apply` errors as `file: hunk at line N` lines."""
    lines = []
    for line in stderr.splitlines():
        m = re.match(r"error: patch failed: (.+):(\d+)$", line)
        if m:
            lines.append(f"  {m.group(1)}: hunk at line {m.group(2)} does not apply")
            continue
        m = re.match(r"error: (.+): (does not exist in index|No such file or directory|already exists in working directory)", line)
        if m:
            lines.append(f"  {m.group(1)}: {m.group(2)}")
    return "\n".join(lines) or stderr.strip()


def apply_patch(tree: Path, patch: Patch) -> None:
    """Apply with zero fuzz (git apply needs every context line to match exactly)."""
    proc = subprocess.run(
        ["git", "apply", "--index", "--whitespace=nowarn", "-p1", str(patch.path.resolve())],
        cwd=tree, text=True, capture_output=True)
    if proc.returncode != 0:
        raise ForkError(f"patch {patch.name} does not apply to the pinned tree:\n"
                        f"{parse_conflicting_hunks(proc.stderr)}")


def commit_message_for(patch: Patch) -> str:
    """The commit keeps the slug as subject and the DEP-3 header verbatim as body."""
    return f"{patch.slug}\n\n{patch.header_text().strip()}\n"


def build_tree(project: Project, version: str, dest: Path, patches: list[Patch]) -> None:
    """Pristine release as commit `upstream`, then one commit per patch."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    copy_release(pristine(project, version), dest)
    git(dest, "init", "-q")
    git(dest, "add", "-A", "-f", ".")
    git(dest, "commit", "-q", "--no-verify", "-m", f"upstream polars {version}")
    git(dest, "tag", "upstream")
    for patch in patches:
        apply_patch(dest, patch)
        msg = dest / ".git" / "POLAROID_MSG"
        msg.write_text(commit_message_for(patch))
        git(dest, "commit", "-q", "--no-verify", "--allow-empty", "-F", str(msg))
        msg.unlink()


def keep_unchanged_mtimes(old: Path, new: Path) -> int:
    """Give each file of `new` whose bytes equal those of the same path in
    `old` the old file's modification time; returns how many.

    Cargo decides a path dependency is stale by its files' mtimes, so a tree
    materialized afresh would rebuild every polars crate (about half an hour
    in release on two cores) even when one patch changed one crate.
    """
    kept = 0
    for dirpath, dirnames, filenames in os.walk(new):
        if Path(dirpath) == new and ".git" in dirnames:
            dirnames.remove(".git")
        for name in filenames:
            path = Path(dirpath) / name
            before = old / path.relative_to(new)
            try:
                was = before.stat()
            except OSError:
                continue
            if path.is_symlink() or before.is_symlink() or was.st_size != path.stat().st_size:
                continue
            if before.read_bytes() == path.read_bytes():
                os.utime(path, ns=(was.st_atime_ns, was.st_mtime_ns))
                kept += 1
    return kept


# --------------------------------------------------------------------------- the pin in manifests

# `polars-x = "=1.2.3"` and `polars-x = { version = "=1.2.3", ... }`, anywhere
# in a manifest (workspace, dependency, target and dev tables alike).
INLINE_REQ_RE = re.compile(
    r'^(\s*(polars(?:-[a-z0-9]+)*)\s*=\s*(?:\{[^}\n]*?\bversion\s*=\s*)?")([^"]*)(")', re.M)
# `[dependencies.polars-x]` followed (before the next table) by `version = "..."`.
TABLE_REQ_RE = re.compile(
    r'^(\[(?:[^\]\n]*\.)?(?:dependencies|dev-dependencies|build-dependencies)\.(polars(?:-[a-z0-9]+)*)\]'
    r'[^\[]*?^\s*version\s*=\s*")([^"]*)(")', re.M | re.S)


def workspace_manifests(project: Project) -> list[Path]:
    """The root manifest and every member's, as the root's `members` names them."""
    data = tomllib.loads(project.cargo_toml.read_text())
    found = [project.cargo_toml]
    for pattern in data.get("workspace", {}).get("members", []):
        for member in sorted(project.root.glob(pattern)):
            if (member / "Cargo.toml").is_file():
                found.append(member / "Cargo.toml")
    return found


def polars_requirements(text: str) -> list[tuple[str, str]]:
    """(crate, version requirement) of every polars-* dependency written in a manifest."""
    return [(m.group(2), m.group(3)) for r in (INLINE_REQ_RE, TABLE_REQ_RE) for m in r.finditer(text)]


def rewrite_polars_requirements(project: Project, version: str) -> list[Path]:
    """Pin every polars-* requirement of every workspace manifest to `=version`."""
    changed = []
    for manifest in workspace_manifests(project):
        text = manifest.read_text()
        new = text
        for r in (INLINE_REQ_RE, TABLE_REQ_RE):
            new = r.sub(lambda m: f"{m.group(1)}={version}{m.group(4)}", new)
        if new != text:
            manifest.write_text(new)
            changed.append(manifest)
    return changed


def check_requirements(project: Project, version: str) -> list[str]:
    problems = []
    for manifest in workspace_manifests(project):
        rel = manifest.relative_to(project.root)
        for name, req in polars_requirements(manifest.read_text()):
            if req != f"={version}":
                problems.append(f"{rel}: {name} requires {req!r}, but the pin is {version} "
                                f"(write \"={version}\"; `make fork-rebase` keeps them all in step)")
    return problems


def check_resolution(project: Project, crates: list[str]) -> list[str]:
    """Every polars crate cargo resolves must be the fork's: one release, one tree.

    Runs `cargo metadata` as a build would (it may need to update Cargo.lock
    to answer; the lock file is restored afterwards, so checking changes nothing).
    """
    if not (project.tree / UPSTREAM_ROOT_CRATE / "Cargo.toml").exists():
        # Nothing can resolve to a tree that is not there; the static checks still ran.
        log("warning: polars-fork/crates is not materialized, so what cargo resolves was not "
            "checked; run `make fork` first for that")
        return []
    lock = project.root / "Cargo.lock"
    saved = lock.read_bytes() if lock.exists() else None
    try:
        proc = subprocess.run(["cargo", "metadata", "--format-version", "1"], cwd=project.root,
                              text=True, capture_output=True)
    finally:
        if saved is not None:
            lock.write_bytes(saved)
    if proc.returncode != 0:
        return [f"cargo metadata failed:\n{proc.stderr.strip()}"]
    fork_root = project.tree.resolve()
    problems = []
    for pkg in json.loads(proc.stdout)["packages"]:
        if pkg["name"] not in crates:
            continue
        manifest = Path(pkg["manifest_path"]).resolve()
        if pkg.get("source") or fork_root not in manifest.parents:
            problems.append(f"cargo resolves {pkg['name']} {pkg['version']} from "
                            f"{pkg.get('source') or manifest.parent}, not polars-fork/crates: a mixed tree")
    return problems


# --------------------------------------------------------------------------- commands


def tree_state(project: Project) -> tuple[bool, str]:
    """(has unexported work, description) for the materialized tree."""
    tree = project.tree
    if not (tree / ".git").exists():
        return False, ""
    status = git(tree, "status", "--porcelain", check=False)
    if status.strip():
        return True, "uncommitted edits:\n" + status
    recorded = (project.fork_dir / ".queue-head").read_text().strip() \
        if (project.fork_dir / ".queue-head").exists() else ""
    head = git(tree, "rev-parse", "HEAD", check=False).strip()
    if recorded and head != recorded:
        return True, "commits not yet exported to patches/ (run `make fork-export`)"
    return False, ""


def cmd_sync(project: Project, force: bool = False) -> int:
    if project.rebase_state.exists():
        raise ForkError("a rebase is in progress: finish it with `make fork-rebase-continue` "
                        "or drop it with `make fork-rebase-abort`")
    stamp = queue_stamp(project)
    if (not force and project.stamp_file.exists() and project.stamp_file.read_text() == stamp
            and project.tree.exists()):
        return 0
    dirty, why = tree_state(project)
    if dirty and not force:
        raise ForkError(f"polars-fork/crates has work that is not in patches/ ({why.strip()}).\n"
                        "Export it with `make fork-export`, or discard it with `make fork FORCE=1`.")
    version = project.pin()
    patches = series_patches(project)
    log(f"materializing polars {version} + {len(patches)} patch(es) into {project.tree}")
    scratch = project.fork_dir / ".crates.new"
    build_tree(project, version, scratch, patches)
    if project.tree.exists():
        kept = keep_unchanged_mtimes(project.tree, scratch)
        log(f"{kept} file(s) unchanged keep their modification times")
        shutil.rmtree(project.tree)
    scratch.rename(project.tree)
    (project.fork_dir / ".queue-head").write_text(git(project.tree, "rev-parse", "HEAD"))
    project.stamp_file.write_text(stamp)
    log("done")
    return 0


def check_headers(patch: Patch) -> list[str]:
    problems = []
    fields = patch.headers()
    for key in REQUIRED_HEADERS:
        if not fields.get(key):
            problems.append(f"{patch.name}: missing DEP-3 header `{key}:`")
    fwd = fields.get("Forwarded", "")
    if fwd and not (fwd in ("no", "not-needed") or re.match(r"^https?://", fwd)):
        problems.append(f"{patch.name}: Forwarded must be no, not-needed or a URL, not {fwd!r}")
    date = fields.get("Last-Update", "")
    if date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        problems.append(f"{patch.name}: Last-Update must be YYYY-MM-DD, not {date!r}")
    if not DIFF_START_RE.search(patch.text()):
        problems.append(f"{patch.name}: contains no diff")
    return problems


def cargo_patch_block(crates: list[str]) -> str:
    lines = [PATCH_BLOCK_BEGIN]
    lines += [f'{c} = {{ path = "polars-fork/crates/{c}" }}' for c in crates]
    lines.append(PATCH_BLOCK_END)
    return "\n".join(lines)


def patch_block_crates(text: str) -> list[str] | None:
    m = re.search(re.escape(PATCH_BLOCK_BEGIN) + r"(.*?)" + re.escape(PATCH_BLOCK_END), text, re.S)
    if not m:
        return None
    return re.findall(r'^([a-z0-9-]+)\s*=', m.group(1), re.M)


def check_cargo_toml(project: Project, version: str, crates: list[str]) -> list[str]:
    """The workspace must build against the fork, never against crates.io's polars."""
    problems = []
    text = project.cargo_toml.read_text()
    listed = patch_block_crates(text)
    if listed is None:
        problems.append("Cargo.toml: no [patch.crates-io] block for polars-fork")
        listed = []
    elif listed and text[text.index(PATCH_BLOCK_BEGIN):].split(PATCH_BLOCK_END)[0] + PATCH_BLOCK_END \
            != cargo_patch_block(listed):
        problems.append("Cargo.toml: the polars-fork [patch.crates-io] block is not in the tool's format")
    for name in listed:
        if name not in crates:
            problems.append(f"Cargo.toml: [patch.crates-io] lists {name}, which polars {version} does not have")
    w = WORKSPACE_POLARS_RE.search(text)
    if not w:
        problems.append('Cargo.toml: no `polars = { version = "..." }` workspace dependency')
    elif w.group(2) != version:
        problems.append(f"Cargo.toml: workspace polars is {w.group(2)} but the pin is {version}")
    lock = project.root / "Cargo.lock"
    if lock.exists():
        for pkg in tomllib.loads(lock.read_text()).get("package", []):
            if pkg["name"] in crates and pkg["version"] == version and "source" in pkg:
                problems.append(f"Cargo.lock: {pkg['name']} {version} resolves to {pkg['source']}, "
                                "not polars-fork/ (add it to the [patch.crates-io] block)")
    return problems


def refresh_patch_block(project: Project, crates: list[str]) -> list[str]:
    """Point [patch.crates-io] at every fork crate the workspace graph uses.

    Crates nothing in the graph reaches (polars-ffi, once Python is gone)
    are left out, so cargo does not warn about unused patches on every run.
    """
    def write(names: list[str]) -> None:
        text = project.cargo_toml.read_text()
        text = re.sub(re.escape(PATCH_BLOCK_BEGIN) + r".*?" + re.escape(PATCH_BLOCK_END),
                      lambda _: cargo_patch_block(names), text, flags=re.S)
        project.cargo_toml.write_text(text)

    write(crates)
    run(["cargo", "metadata", "--format-version", "1"], cwd=project.root)
    lock = tomllib.loads((project.root / "Cargo.lock").read_text())
    unused = {p["name"] for p in lock.get("patch", {}).get("unused", [])}
    used = [c for c in crates if c not in unused]
    if unused:
        write(used)
        run(["cargo", "metadata", "--format-version", "1"], cwd=project.root)
    return used


def cmd_check(project: Project) -> int:
    problems: list[str] = []
    version = project.pin()
    names = read_series(project)
    seen = set()
    for n in names:
        if n in seen:
            problems.append(f"series: {n} is listed more than once")
        seen.add(n)
        if not PATCH_NAME_RE.match(n):
            problems.append(f"series: {n} is not named NNNN-verb-what.patch")
        elif not (project.patches_dir / n).exists():
            problems.append(f"series: {n} does not exist in patches/")
    on_disk = sorted(p.name for p in project.patches_dir.glob("*.patch"))
    for n in on_disk:
        if n not in seen:
            problems.append(f"patches/{n} is not listed in series")
    numbers = [int(n[:4]) for n in names if PATCH_NAME_RE.match(n)]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        problems.append("series: patch numbers must be unique and increasing in series order")
    patches = [Patch(n, project.patches_dir / n) for n in names
               if PATCH_NAME_RE.match(n) and (project.patches_dir / n).exists()]
    for p in patches:
        problems += check_headers(p)
    if not problems:
        with tempfile.TemporaryDirectory(prefix="polaroid-check-") as tmp:
            try:
                build_tree(project, version, Path(tmp) / "crates", patches)
            except ForkError as e:
                problems.append(str(e))
    crates = pristine_crates(pristine(project, version))
    problems += check_cargo_toml(project, version, crates)
    problems += check_requirements(project, version)
    if not problems:
        problems += check_resolution(project, crates)
    if problems:
        print("fork-check found problems:", file=sys.stderr)
        for p in problems:
            print(f"- {p}", file=sys.stderr)
        return 1
    log(f"queue OK: {len(patches)} patch(es) apply to polars {version} with zero fuzz")
    return 0


def _dep3_from_commit(tree: Path, rev: str) -> tuple[str, str]:
    """(slug, header) for one queue commit.

    A commit made by this tool carries its DEP-3 header in the body, kept
    verbatim. A commit a maintainer made by hand gets a header built from its
    message and author.
    """
    subject = git(tree, "log", "-1", "--format=%s", rev).strip()
    body = git(tree, "log", "-1", "--format=%b", rev).strip()
    fields_in_body = {m.group(1) for line in body.splitlines() if (m := HEADER_RE.match(line))}
    if re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", subject) and set(REQUIRED_HEADERS) <= fields_in_body:
        return subject, body
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")[:60].strip("-") or "change"
    author = git(tree, "log", "-1", "--format=%an <%ae>", rev).strip()
    desc = subject + ("\n " + "\n ".join(l if l.strip() else "." for l in body.splitlines()) if body else "")
    header = (f"Description: {desc}\nAuthor: {author}\nForwarded: no\n"
              f"Last-Update: {_dt.date.today().isoformat()}")
    return slug, header


def export_queue(project: Project) -> list[str]:
    tree = project.tree
    if not (tree / ".git").exists():
        raise ForkError("polars-fork/crates is not materialized; run `make fork` first")
    if git(tree, "status", "--porcelain").strip():
        raise ForkError("polars-fork/crates has uncommitted edits: commit them inside the tree "
                        "(`git -C polars-fork/crates commit -a`) before exporting")
    revs = git(tree, "rev-list", "--reverse", "upstream..HEAD").split()
    old = {p.slug: p for p in series_patches(project)} if project.series_file.exists() else {}
    names: list[str] = []
    for i, rev in enumerate(revs, start=1):
        slug, header = _dep3_from_commit(tree, rev)
        diff = git(tree, "diff", "--no-color", "--no-ext-diff", "--no-renames", "--full-index",
                   "--binary", "--src-prefix=a/", "--dst-prefix=b/", f"{rev}^", rev)
        name = f"{i:04d}-{slug}.patch"
        prev = old.get(slug)
        if prev is not None and prev.path.exists():
            if prev.diff_text() != diff:
                # The change itself moved: refresh Last-Update, keep everything else.
                header = re.sub(r"^Last-Update:.*$", f"Last-Update: {_dt.date.today().isoformat()}",
                                header, flags=re.M)
        content = f"{header.strip()}\n---\n{diff}"
        target = project.patches_dir / name
        if not target.exists() or target.read_text() != content:
            target.write_text(content)
        names.append(name)
    named_before = set(read_series(project)) if project.series_file.exists() else set()
    for stale in sorted(project.patches_dir.glob("*.patch")):
        if stale.name in names:
            continue
        if stale.name in named_before:
            # The queue's own file under an old name (renumbered, renamed or
            # dropped): its successor, if any, was just written.
            stale.unlink()
            log(f"removed patches/{stale.name}: the queue no longer has it under that name")
        else:
            # Nobody's queue: a maintainer's file. Never ours to delete.
            log(f"warning: patches/{stale.name} is not in series and was left alone; "
                "`make fork-check` fails until it is listed or removed")
    series = "".join(n + "\n" for n in names)
    if not project.series_file.exists() or project.series_file.read_text() != series:
        project.series_file.write_text(series)
    (project.fork_dir / ".queue-head").write_text(git(tree, "rev-parse", "HEAD"))
    project.stamp_file.write_text(queue_stamp(project))
    return names


def cmd_export(project: Project) -> int:
    names = export_queue(project)
    log(f"exported {len(names)} patch(es) to patches/")
    return 0


def _picking_env() -> dict:
    return {**os.environ, **GIT_IDENTITY, "GIT_EDITOR": "true", "GIT_CONFIG_NOSYSTEM": "1"}


def _commit_fields(tree: Path, rev: str) -> dict[str, str]:
    body = git(tree, "log", "-1", "--format=%b", rev)
    return {m.group(1): m.group(2).strip() for line in body.splitlines() if (m := HEADER_RE.match(line))}


def regenerate_argv(command: str) -> list[str]:
    """A `Regenerate-With:` field as an argv list: split like a shell would
    split words, but never run by one (no expansion, pipes or redirection).
    `python3` means this interpreter, so the generator runs where the tool runs."""
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise ForkError(f"Regenerate-With `{command}` is not a valid argument list: {e}") from None
    if not argv:
        raise ForkError("Regenerate-With is empty")
    for word in argv:
        if word in {"|", "||", "&&", ";", ">", ">>", "<", "&"} or "$" in word or "`" in word:
            raise ForkError(f"Regenerate-With `{command}` needs a shell ({word!r}); "
                            "it must be a plain command and its arguments")
    if argv[0] in {"python", "python3"}:
        argv[0] = sys.executable
    return argv


def _regenerate(project: Project, command: str) -> None:
    """Run a patch's generator (its `Regenerate-With:` field) over the tree."""
    argv = regenerate_argv(command)
    log(f"regenerating with {argv}")
    proc = subprocess.run(argv, cwd=project.root, text=True, capture_output=True,
                          env={**os.environ, "POLAROID_FORK_TREE": str(project.tree)})
    if proc.returncode != 0:
        raise ForkError(f"`{command}` failed:\n{proc.stderr.strip()}")


def report_rebase_conflict(project: Project, rev: str) -> int:
    tree = project.tree
    patch_desc = git(tree, "log", "-1", "--format=%s", rev).strip()
    state = json.loads(project.rebase_state.read_text())
    if rev in state.get("queue", []):
        series = read_series(project)
        i = state["queue"].index(rev)
        if i < len(series):
            patch_desc = series[i]
    files = git(tree, "diff", "--name-only", "--diff-filter=U").split()
    print(f"fork-rebase: CONFLICT while replaying patch `{patch_desc}`", file=sys.stderr)
    for f in files:
        hunks = []
        try:
            for no, line in enumerate((tree / f).read_text(errors="replace").splitlines(), 1):
                if line.startswith("<<<<<<<"):
                    hunks.append(str(no))
        except OSError:
            pass
        where = f" (conflict hunks at line {', '.join(hunks)})" if hunks else " (modified on one side, deleted on the other)"
        print(f"  {f}{where}", file=sys.stderr)
    print("Resolve the files in polars-fork/crates, `git -C polars-fork/crates add` them, then run\n"
          "`make fork-rebase-continue` (or `make fork-rebase-abort` to give up).", file=sys.stderr)
    return 1


def _replay(project: Project) -> int:
    """Cherry-pick the remaining queue commits; stop at the first real conflict.

    A patch with a `Regenerate-With:` field is produced by a generator: on a
    conflict its files are taken from the new release and the generator is
    re-run, and after a clean pick it is re-run too, so code the new release
    added is covered as well.
    """
    tree = project.tree
    state = json.loads(project.rebase_state.read_text())
    while state["todo"]:
        rev = state["todo"][0]
        regen = _commit_fields(tree, rev).get("Regenerate-With")
        proc = subprocess.run(["git", "-c", "commit.gpgsign=false", "cherry-pick", "--allow-empty",
                               "--keep-redundant-commits", rev],
                              cwd=tree, text=True, capture_output=True, env=_picking_env())
        if proc.returncode != 0:
            conflicted = git(tree, "diff", "--name-only", "--diff-filter=U").split()
            if not conflicted:
                raise ForkError(f"git cherry-pick failed:\n{proc.stderr.strip()}")
            if not regen:
                state["current"] = rev
                project.rebase_state.write_text(json.dumps(state))
                return report_rebase_conflict(project, rev)
            for f in conflicted:
                # Keep the new release's file; the generator redoes the patch's work on it.
                if git(tree, "ls-tree", "HEAD", "--", f).strip():
                    git(tree, "checkout", "HEAD", "--", f)
                else:
                    git(tree, "rm", "-q", "--cached", "--ignore-unmatch", "--", f)
                    (tree / f).unlink(missing_ok=True)
            _regenerate(project, regen)
            git(tree, "add", "-A", ".")
            msg = tree / ".git" / "POLAROID_MSG"
            msg.write_text(git(tree, "log", "-1", "--format=%B", rev))
            git(tree, "commit", "-q", "--no-verify", "--allow-empty", "-F", str(msg))
            msg.unlink()
        elif regen:
            _regenerate(project, regen)
            git(tree, "add", "-A", ".")
            if git(tree, "status", "--porcelain").strip():
                git(tree, "commit", "-q", "--no-verify", "--amend", "--no-edit")
        state["todo"].pop(0)
        state["current"] = None
        project.rebase_state.write_text(json.dumps(state))
    return finish_rebase(project)


def cmd_rebase(project: Project, to: str) -> int:
    if project.rebase_state.exists():
        raise ForkError("a rebase is already in progress: `make fork-rebase-continue` or `make fork-rebase-abort`")
    if not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+\S*", to):
        raise ForkError(f"--to must be a release version like 0.56.0, not {to!r}")
    cmd_sync(project)
    dirty, why = tree_state(project)
    if dirty:
        raise ForkError(f"polars-fork/crates has unexported work ({why.strip()}); export it first")
    old = project.pin()
    tree = project.tree
    log(f"rebasing the queue from polars {old} onto polars {to}")
    new_src = pristine(project, to)
    orig_head = git(tree, "rev-parse", "HEAD").strip()
    todo = git(tree, "rev-list", "--reverse", "upstream..HEAD").split()
    # Upstream `to` as a commit on top of upstream `old`, so git sees the upstream diff.
    git(tree, "checkout", "-q", "--detach", "upstream")
    for entry in tree.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    copy_release(new_src, tree)
    git(tree, "add", "-A", "-f", ".")
    git(tree, "commit", "-q", "--no-verify", "--allow-empty", "-m", f"upstream polars {to}")
    new_base = git(tree, "rev-parse", "HEAD").strip()
    project.rebase_state.write_text(json.dumps(
        {"from": old, "to": to, "new_base": new_base, "orig_head": orig_head, "todo": todo,
         "queue": list(todo), "current": None}))
    return _replay(project)


def finish_rebase(project: Project) -> int:
    state = json.loads(project.rebase_state.read_text())
    tree = project.tree
    git(tree, "checkout", "-q", "-B", "queue")
    git(tree, "tag", "-f", "upstream", state["new_base"])
    project.write_pin(state["to"])
    crates = pristine_crates(pristine(project, state["to"]))
    for manifest in rewrite_polars_requirements(project, state["to"]):
        log(f"{manifest.relative_to(project.root)}: polars-* requirements now ={state['to']}")
    refresh_patch_block(project, crates)
    names = export_queue(project)
    project.rebase_state.unlink()
    log(f"rebased {len(names)} patch(es) onto polars {state['to']}; pin, Cargo.toml and patches/ updated")
    return 0


def cmd_rebase_continue(project: Project) -> int:
    if not project.rebase_state.exists():
        raise ForkError("no rebase in progress")
    tree = project.tree
    state = json.loads(project.rebase_state.read_text())
    if state.get("current"):
        if git(tree, "diff", "--name-only", "--diff-filter=U").strip():
            return report_rebase_conflict(project, state["current"])
        if (tree / ".git" / "CHERRY_PICK_HEAD").exists():
            proc = subprocess.run(["git", "-c", "commit.gpgsign=false", "cherry-pick", "--continue"],
                                  cwd=tree, text=True, capture_output=True, env=_picking_env())
            if proc.returncode != 0 and "nothing to commit" not in proc.stdout + proc.stderr:
                raise ForkError(f"git cherry-pick --continue failed:\n{(proc.stderr or proc.stdout).strip()}")
            if proc.returncode != 0:
                # The resolution made the patch empty: keep it as an empty commit, for the record.
                git(tree, "commit", "-q", "--no-verify", "--allow-empty", "-C", state["current"])
        state["todo"].pop(0)
        state["current"] = None
        project.rebase_state.write_text(json.dumps(state))
    return _replay(project)


def cmd_rebase_abort(project: Project) -> int:
    if not project.rebase_state.exists():
        raise ForkError("no rebase in progress")
    tree = project.tree
    state = json.loads(project.rebase_state.read_text())
    if (tree / ".git" / "CHERRY_PICK_HEAD").exists():
        git(tree, "cherry-pick", "--abort", check=False)
    git(tree, "reset", "-q", "--hard")
    git(tree, "checkout", "-q", "-B", "queue", state["orig_head"])
    git(tree, "clean", "-qfdx")
    project.rebase_state.unlink()
    log("rebase aborted; the tree is back on the pinned release")
    return 0


# Upstream's own tests of the crates the queue patches, with the features we
# build them with. polars-sql's tests are integration tests (tests/*.rs).
FORK_TEST_SUITES: list[tuple[str, list[str]]] = [
    ("polars-error", ["--lib"]),
    ("polars-async", ["--lib"]),
    ("polars-buffer", ["--lib"]),
    ("polars-arrow", ["--lib", "--features", "io_ipc,io_ipc_compression,proptest"]),
    ("polars-sql", ["--tests", "--features",
                    "csv,ipc,parquet,json,timezones,dynamic_group_by,rank,semi_anti_join,"
                    "list_eval,diagonal_concat,bitwise,binary_encoding,dtype-decimal,mode,asof_join,moment,unique_counts,product,search_sorted,"
                    # polars-stream needs it, and only upstream's workspace-wide features unify it in.
                    "polars-lazy/dtype-categorical",
                    "--no-fail-fast", "--",
                    # These read upstream's examples/datasets/foods1.*, which the
                    # published crate does not ship.
                    "--skip", "read_csv_tbl_func", "--skip", "read_parquet_tbl", "--skip", "read_ipc_tbl",
                    "--skip", "iss_7436", "--skip", "iss_7437", "--skip", "iss_8395", "--skip", "test_group_by_2"]),
]


def cmd_test_crates(project: Project, only: list[str]) -> int:
    """Run upstream's tests of the patched crates against the patched tree.

    The crates are not workspace members (our workspace excludes
    polars-fork/), so a throwaway workspace at polars-fork/Cargo.toml holds
    them, with every fork crate patched in; it is removed afterwards. Builds
    go to target/fork-crates so they never invalidate the main build.
    """
    cmd_sync(project)
    crates = pristine_crates(pristine(project, project.pin()))
    suites = [(c, args) for c, args in FORK_TEST_SUITES if not only or c in only]
    unknown = set(only) - {c for c, _ in FORK_TEST_SUITES}
    if unknown:
        raise ForkError(f"no test suite for {sorted(unknown)}; known: {[c for c, _ in FORK_TEST_SUITES]}")
    manifest = project.fork_dir / "Cargo.toml"
    members = ", ".join(f'"crates/{c}"' for c, _ in suites)
    patches = "\n".join(f'{c} = {{ path = "crates/{c}" }}' for c in crates)
    manifest.write_text("# Written by `ci/fork.py test-crates` while it runs; not a real workspace.\n"
                        f'[workspace]\nresolver = "2"\nmembers = [{members}]\n\n[patch.crates-io]\n{patches}\n')
    # Without debug info and incremental state: polars-sql's dozen test
    # binaries are 1.7 GB each with them, which filled a disk.
    env = {**os.environ, "CARGO_TARGET_DIR": str(project.root / "target" / "fork-crates"),
           "CARGO_PROFILE_DEV_DEBUG": "0", "CARGO_INCREMENTAL": "0"}
    failed = []
    try:
        for crate, args in suites:
            log(f"testing {crate} ({' '.join(args)})")
            proc = subprocess.run(["cargo", "test", "--manifest-path", str(manifest), "-p", crate, *args],
                                  cwd=project.fork_dir, env=env)
            if proc.returncode != 0:
                failed.append(crate)
    finally:
        manifest.unlink(missing_ok=True)
    if failed:
        print(f"fork: upstream tests failed for {failed}", file=sys.stderr)
        return 1
    log(f"upstream tests pass for {[c for c, _ in suites]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ci/fork.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="project root (default: the checkout holding this script)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sync")
    s.add_argument("--force", action="store_true", help="rebuild even if the stamp matches; discards unexported work")
    sub.add_parser("check")
    sub.add_parser("export")
    r = sub.add_parser("rebase")
    r.add_argument("--to", required=True)
    sub.add_parser("rebase-continue")
    sub.add_parser("rebase-abort")
    sub.add_parser("clean-cache", help="empty the pristine-release cache")
    t = sub.add_parser("test-crates", help="run upstream's tests of the patched crates")
    t.add_argument("crates", nargs="*", help="only these crates (default: every suite)")
    sub.add_parser("refresh-cargo", help="rewrite Cargo.toml's [patch.crates-io] block for the pinned release")
    args = parser.parse_args(argv)
    project = Project(args.root.resolve())
    try:
        if args.cmd == "sync":
            return cmd_sync(project, force=args.force)
        if args.cmd == "check":
            return cmd_check(project)
        if args.cmd == "export":
            return cmd_export(project)
        if args.cmd == "rebase":
            return cmd_rebase(project, args.to)
        if args.cmd == "rebase-continue":
            return cmd_rebase_continue(project)
        if args.cmd == "rebase-abort":
            return cmd_rebase_abort(project)
        if args.cmd == "test-crates":
            return cmd_test_crates(project, args.crates)
        if args.cmd == "clean-cache":
            shutil.rmtree(project.cache_dir, ignore_errors=True)
            log(f"emptied {project.cache_dir}")
            return 0
        if args.cmd == "refresh-cargo":
            used = refresh_patch_block(project, pristine_crates(pristine(project, project.pin())))
            log(f"[patch.crates-io] points {len(used)} crate(s) at polars-fork/crates")
            return 0
    except ForkError as e:
        print(f"fork: error: {e}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
