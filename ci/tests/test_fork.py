"""Tests of the patch-queue tool (ci/fork.py).

Each scenario works on a temporary copy of the project, so the real
polars-fork/ and patches/ are never touched. The pristine-release cache lives
outside every checkout, so the copies share it with the real one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import json
import tempfile
import tomllib
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ci"))
import fork  # noqa: E402

OTHER_RELEASE = "0.55.0"


def run_fork(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(root / "ci" / "fork.py"), "--root", str(root), *args],
                          text=True, capture_output=True)


def project_copy() -> Path:
    """A copy of the project's own files (tracked or new, never ignored ones)."""
    tmp = Path(tempfile.mkdtemp(prefix="polaroid-forktest-"))
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for raw in files:
        if not raw:
            continue
        rel = Path(raw.decode())
        src = ROOT / rel
        if not src.is_file():
            continue
        dst = tmp / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    return tmp


def tree_git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Test Maintainer", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "Test Maintainer", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    return subprocess.run(["git", *args], cwd=root / "polars-fork" / "crates", env=env,
                          text=True, capture_output=True, check=True).stdout


def snapshot(dir_: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(dir_.iterdir()) if p.is_file()}


class ForkToolTest(unittest.TestCase):
    def setUp(self) -> None:
        self.root = project_copy()
        self.addCleanup(shutil.rmtree, self.root, ignore_errors=True)

    def sync(self) -> None:
        proc = run_fork(self.root, "sync")
        self.assertEqual(proc.returncode, 0, proc.stderr)

    # ---------------------------------------------------------------- sync / export

    def test_sync_applies_queue_and_second_sync_is_a_noop(self) -> None:
        self.sync()
        tree = self.root / "polars-fork" / "crates"
        log = tree_git(self.root, "log", "--format=%s")
        series = fork.read_series(fork.Project(self.root))
        # one upstream commit + one commit per patch
        self.assertEqual(len(log.splitlines()), 1 + len(series))
        self.assertIn(f"upstream polars {fork.Project(self.root).pin()}", log)
        stamp_before = (self.root / "polars-fork" / ".stamp").stat().st_mtime_ns
        head_before = tree_git(self.root, "rev-parse", "HEAD")
        proc = run_fork(self.root, "sync")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "", "a no-op sync must not do or say anything")
        self.assertEqual((self.root / "polars-fork" / ".stamp").stat().st_mtime_ns, stamp_before)
        self.assertEqual(tree_git(self.root, "rev-parse", "HEAD"), head_before)

    def test_a_resync_keeps_the_mtimes_of_files_it_did_not_change(self) -> None:
        # Cargo rebuilds a crate whose files are newer than its last build:
        # only what the queue changed may look new after materializing again.
        self.sync()
        tree = self.root / "polars-fork" / "crates"
        changed = set(tree_git(self.root, "diff", "--name-only", "HEAD~1", "HEAD").split())
        self.assertTrue(changed)
        old = 1_000_000_000_000_000_000  # 2001, in ns
        for path in tree.rglob("*"):
            if ".git" not in path.relative_to(tree).parts and path.is_file() and not path.is_symlink():
                os.utime(path, ns=(old, old))
        # Drop the queue's last patch: its files go back to the release's.
        series = fork.read_series(fork.Project(self.root))
        fork.Project(self.root).series_file.write_text("".join(n + "\n" for n in series[:-1]))
        self.sync()
        files = [p for p in tree.rglob("*") if ".git" not in p.relative_to(tree).parts and p.is_file()]
        new = {str(p.relative_to(tree)) for p in files if p.stat().st_mtime_ns != old}
        self.assertEqual(new, {f for f in changed if (tree / f).exists()})
        self.assertGreater(len(files), 1000)

    def test_pyo3_layer_is_gone(self) -> None:
        self.sync()
        tree = self.root / "polars-fork" / "crates"
        self.assertFalse((tree / "polars-python").exists())
        offenders = []
        # Everything under polars-fork/ except git's own object store.
        for path in (self.root / "polars-fork").rglob("*"):
            if not path.is_file() or ".git" in path.relative_to(self.root).parts:
                continue
            text = path.read_text(errors="replace")
            if 'feature = "python"' in text:
                offenders.append(str(path.relative_to(self.root)))
            if path.suffix == ".rs" and "pyo3::" in text:
                offenders.append(str(path.relative_to(self.root)))
            if path.name == "Cargo.toml" and (re.search(r"^\[dependencies\.(pyo3|numpy)\]", text, re.M)
                                              or re.search(r"^python\s*=", text, re.M)):
                offenders.append(str(path.relative_to(self.root)))
        self.assertEqual(offenders, [])

    def test_no_workspace_crate_reaches_pyo3_or_numpy_with_all_features(self) -> None:
        self.sync()
        for crate in ("pyo3", "numpy"):
            proc = subprocess.run(["cargo", "tree", "--workspace", "--all-features", "-i", crate],
                                  cwd=self.root, text=True, capture_output=True)
            self.assertNotEqual(proc.returncode, 0, proc.stdout)
            self.assertIn(f"`{crate}` did not match any packages", proc.stderr)

    def test_patch_0001_is_exactly_the_generators_output(self) -> None:
        self.sync()
        first = fork.read_series(fork.Project(self.root))[0]
        self.assertEqual(first, "0001-remove-pyo3-layer.patch")
        # The tree exactly as released: files later patches add are removed too.
        tree_git(self.root, "read-tree", "-u", "--reset", "upstream")
        proc = subprocess.run([sys.executable, str(self.root / "ci" / "strip_python.py"),
                               str(self.root / "polars-fork" / "crates")], text=True, capture_output=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        tree_git(self.root, "add", "-A", ".")
        first_commit = tree_git(self.root, "rev-list", "--reverse", "upstream..HEAD").split()[0]
        self.assertEqual(tree_git(self.root, "diff", "--cached", "--stat", first_commit), "")

    def test_export_of_unchanged_queue_changes_no_byte(self) -> None:
        before = snapshot(self.root / "patches")
        self.sync()
        proc = run_fork(self.root, "export")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(snapshot(self.root / "patches"), before)

    def test_hand_commit_exports_as_dep3_patch_and_reapplies(self) -> None:
        self.sync()
        target = self.root / "polars-fork" / "crates" / "polars-utils" / "src" / "lib.rs"
        target.write_text(target.read_text() + "\n// polaroid: marker line for the test\n")
        tree_git(self.root, "commit", "-q", "-am", "Add a marker comment", "-m", "Why: exercise export.")
        proc = run_fork(self.root, "export")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        series = fork.read_series(fork.Project(self.root))
        new = series[-1]
        self.assertRegex(new, r"^\d{4}-add-a-marker-comment\.patch$")
        patch = fork.Patch(new, self.root / "patches" / new)
        headers = patch.headers()
        self.assertTrue(headers["Description"].startswith("Add a marker comment"))
        self.assertEqual(headers["Author"], "Test Maintainer <t@example.invalid>")
        self.assertEqual(headers["Forwarded"], "no")
        self.assertIn("+// polaroid: marker line for the test", patch.text())
        # The queue with the new patch validates and re-materializes from scratch.
        proc = run_fork(self.root, "check")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc = run_fork(self.root, "sync", "--force")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("marker line for the test", target.read_text())

    def test_sync_refuses_to_discard_unexported_work(self) -> None:
        self.sync()
        target = self.root / "polars-fork" / "crates" / "polars-utils" / "src" / "lib.rs"
        target.write_text(target.read_text() + "\n// unsaved\n")
        # Change the queue so sync would have to rebuild the tree.
        (self.root / "polars-fork" / "UPSTREAM").write_text(f"polars {OTHER_RELEASE}\n")
        proc = run_fork(self.root, "sync")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("not in patches/", proc.stderr)
        self.assertIn("// unsaved", target.read_text())

    # ---------------------------------------------------------------- check

    def test_check_passes_on_the_committed_queue(self) -> None:
        proc = run_fork(self.root, "check")
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_check_reports_queue_mistakes(self) -> None:
        patches = self.root / "patches"
        first = fork.read_series(fork.Project(self.root))[0]
        (patches / "0099-add-stray.patch").write_text("Description: x\n---\n")
        (patches / "series").write_text((patches / "series").read_text() + first + "\nmissing-name.patch\n")
        text = (patches / first).read_text()
        (patches / first).write_text(re.sub(r"^Author:.*\n", "", text, flags=re.M))
        proc = run_fork(self.root, "check")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("0099-add-stray.patch is not listed in series", proc.stderr)
        self.assertIn(f"{first} is listed more than once", proc.stderr)
        self.assertIn("missing-name.patch is not named NNNN-verb-what.patch", proc.stderr)
        self.assertIn(f"{first}: missing DEP-3 header `Author:`", proc.stderr)

    def test_check_names_patch_file_and_hunk_that_do_not_apply(self) -> None:
        patches = self.root / "patches"
        bad = "0900-change-nothing-real.patch"
        (patches / bad).write_text(
            "Description: A patch whose context does not exist upstream.\n"
            "Author: Test <t@example.invalid>\nForwarded: no\nLast-Update: 2026-01-01\n---\n"
            "diff --git a/polars-core/Cargo.toml b/polars-core/Cargo.toml\n"
            "--- a/polars-core/Cargo.toml\n+++ b/polars-core/Cargo.toml\n"
            "@@ -1,3 +1,3 @@\n this line\n-is not\n+in polars\n at all\n")
        (patches / "series").write_text((patches / "series").read_text() + bad + "\n")
        proc = run_fork(self.root, "check")
        self.assertEqual(proc.returncode, 1)
        self.assertIn(f"patch {bad} does not apply", proc.stderr)
        self.assertIn("polars-core/Cargo.toml: hunk at line 1 does not apply", proc.stderr)

    # ---------------------------------------------------------------- rebase

    def test_rebase_onto_another_release(self) -> None:
        self.sync()
        proc = run_fork(self.root, "rebase", "--to", OTHER_RELEASE)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        project = fork.Project(self.root)
        self.assertEqual(project.pin(), OTHER_RELEASE)
        cargo = (self.root / "Cargo.toml").read_text()
        self.assertIn(f'polars = {{ version = "={OTHER_RELEASE}"', cargo)
        for line in fork.patch_block_crates(cargo):
            self.assertTrue((self.root / "polars-fork" / "crates" / line / "Cargo.toml").exists())
        tree = self.root / "polars-fork" / "crates"
        self.assertIn(f'version = "{OTHER_RELEASE}"', (tree / "polars-core" / "Cargo.toml").read_text())
        self.assertEqual(len(fork.read_series(project)), len(fork.read_series(fork.Project(ROOT))))
        # Every polars-* requirement in every manifest moved with the pin...
        manifests = [self.root / "Cargo.toml", *sorted(self.root.glob("polaroid-*/Cargo.toml"))]
        seen = {}
        for manifest in manifests:
            data = tomllib.loads(manifest.read_text())
            tables = [data.get("workspace", {}).get("dependencies", {}), data.get("dependencies", {}),
                      data.get("dev-dependencies", {}), data.get("build-dependencies", {})]
            for table in tables:
                for name, spec in table.items():
                    if name.startswith("polars") and isinstance(spec, dict) and "version" in spec:
                        seen[f"{manifest.parent.name}:{name}"] = spec["version"]
        self.assertIn(f"{self.root.name}:polars-plan", seen)
        self.assertEqual(set(seen.values()), {f"={OTHER_RELEASE}"}, seen)
        # ...so cargo resolves every polars crate, and only one release of it, to the fork.
        meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1"], cwd=self.root,
                                         text=True, capture_output=True, check=True).stdout)
        release = {d.name for d in (self.root / "polars-fork" / "crates").iterdir() if d.is_dir()}
        polars_pkgs = [p for p in meta["packages"] if p["name"] in release]
        self.assertIn("polars-plan", {p["name"] for p in polars_pkgs})
        fork_dir = (self.root / "polars-fork" / "crates").resolve()
        for pkg in polars_pkgs:
            self.assertEqual(pkg["version"], OTHER_RELEASE, pkg["name"])
            self.assertIsNone(pkg["source"], pkg["name"])
            self.assertIn(fork_dir, Path(pkg["manifest_path"]).resolve().parents, pkg["name"])
        proc = run_fork(self.root, "check")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # The stamp agrees with the new pin and patches: sync is a no-op.
        proc = run_fork(self.root, "sync")
        self.assertEqual((proc.returncode, proc.stderr), (0, ""))

    def test_check_reports_a_polars_requirement_off_the_pin(self) -> None:
        self.sync()
        cargo = self.root / "Cargo.toml"
        pin = fork.Project(self.root).pin()
        text = cargo.read_text()
        self.assertIn(f'polars-plan = {{ version = "={pin}"', text)
        cargo.write_text(text.replace(f'polars-plan = {{ version = "={pin}"', 'polars-plan = { version = "=0.55.0"'))
        proc = run_fork(self.root, "check")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(f"Cargo.toml: polars-plan requires '=0.55.0', but the pin is {pin}", proc.stderr)

    def test_check_catches_a_crate_cargo_takes_from_crates_io(self) -> None:
        self.sync()
        project = fork.Project(self.root)
        cargo = self.root / "Cargo.toml"
        text = cargo.read_text()
        line = 'polars-plan = { path = "polars-fork/crates/polars-plan" }\n'
        self.assertIn(line, text)
        cargo.write_text(text.replace(line, ""))
        lock_before = (self.root / "Cargo.lock").read_bytes()
        problems = fork.check_resolution(project, fork.pristine_crates(fork.pristine(project, project.pin())))
        self.assertEqual(len(problems), 1, problems)
        self.assertRegex(problems[0], r"cargo resolves polars-plan \S+ from registry\+\S+, not polars-fork/crates")
        self.assertEqual((self.root / "Cargo.lock").read_bytes(), lock_before, "check must not change Cargo.lock")

    def test_regenerate_with_is_an_argument_list_never_a_shell(self) -> None:
        self.assertEqual(fork.regenerate_argv("python3 ci/strip_python.py"), [sys.executable, "ci/strip_python.py"])
        for needs_a_shell in ["python3 x.py | tee y", 'python3 x.py "$POLAROID_FORK_TREE"', "rm -rf x ; echo",
                              "python3 x.py > out", "python3 `which x`", "", "python3 'unclosed"]:
            with self.assertRaises(fork.ForkError, msg=needs_a_shell):
                fork.regenerate_argv(needs_a_shell)
        # Quoted words arrive as they are written: no globbing, no splitting.
        project = fork.Project(self.root)
        project.tree.mkdir(parents=True)
        fork._regenerate(project, "python3 -c \"import os, sys; open(os.environ['POLAROID_FORK_TREE'] + "
                                  "'/argv.txt', 'w').write(repr(sys.argv[1:]))\" '*' 'a b'")
        self.assertEqual((project.tree / "argv.txt").read_text(), "['*', 'a b']")

    def test_export_leaves_a_patch_series_does_not_name_and_says_so(self) -> None:
        self.sync()
        wip = self.root / "patches" / "0099-work-in-progress.patch"
        wip.write_text("Description: not queued yet\n---\n")
        proc = run_fork(self.root, "export")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("patches/0099-work-in-progress.patch is not in series and was left alone", proc.stderr)
        self.assertEqual(wip.read_text(), "Description: not queued yet\n---\n")
        proc = run_fork(self.root, "check")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("patches/0099-work-in-progress.patch is not listed in series", proc.stderr)

    def test_export_says_which_queued_patch_it_replaces(self) -> None:
        self.sync()
        last = fork.read_series(fork.Project(self.root))[-1]
        tree_git(self.root, "commit", "-q", "--amend", "-m", "Renamed last patch")
        proc = run_fork(self.root, "export")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(f"removed patches/{last}: the queue no longer has it under that name", proc.stderr)
        self.assertFalse((self.root / "patches" / last).exists())
        self.assertTrue(fork.read_series(fork.Project(self.root))[-1].endswith("-renamed-last-patch.patch"))

    def test_the_pristine_cache_survives_cargo_clean(self) -> None:
        self.sync()
        project = fork.Project(self.root)
        self.assertNotIn(self.root, project.cache_dir.parents)
        marker = project.cache_dir / project.pin() / ".complete"
        self.assertTrue(marker.exists())
        subprocess.run(["cargo", "clean"], cwd=self.root, capture_output=True, check=True)
        self.assertTrue(marker.exists())
        moved = Path(tempfile.mkdtemp(prefix="polaroid-cache-"))
        self.addCleanup(shutil.rmtree, moved, ignore_errors=True)
        os.environ["POLAROID_CACHE_DIR"] = str(moved)
        self.addCleanup(os.environ.pop, "POLAROID_CACHE_DIR")
        self.assertEqual(fork.Project(self.root).cache_dir, moved / "polars-pristine")

    def test_rebase_conflict_is_reported_then_resolved(self) -> None:
        self.sync()
        tree = self.root / "polars-fork" / "crates"
        manifest = tree / "polars-core" / "Cargo.toml"
        pin = fork.Project(self.root).pin()
        manifest.write_text(manifest.read_text().replace(f'version = "{pin}"', f'version = "{pin}+polaroid"', 1))
        tree_git(self.root, "commit", "-q", "-am", "Mark the core version")
        self.assertEqual(run_fork(self.root, "export").returncode, 0)
        marked = fork.read_series(fork.Project(self.root))[-1]
        self.assertTrue(marked.endswith("-mark-the-core-version.patch"), marked)

        proc = run_fork(self.root, "rebase", "--to", OTHER_RELEASE)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(f"CONFLICT while replaying patch `{marked}`", proc.stderr)
        self.assertRegex(proc.stderr, r"polars-core/Cargo.toml \(conflict hunks at line \d+\)")
        self.assertIn("make fork-rebase-continue", proc.stderr)
        self.assertEqual(fork.Project(self.root).pin(), pin, "the pin must not move until the rebase ends")

        # Resolve as a maintainer would: keep the new release's line with our marker.
        text = manifest.read_text()
        text = re.sub(r"<<<<<<<.*?\n(.*?)=======\n.*?>>>>>>>[^\n]*\n",
                      lambda m: f'version = "{OTHER_RELEASE}+polaroid"\n', text, flags=re.S)
        manifest.write_text(text)
        tree_git(self.root, "add", "polars-core/Cargo.toml")
        proc = run_fork(self.root, "rebase-continue")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(fork.Project(self.root).pin(), OTHER_RELEASE)
        last = fork.read_series(fork.Project(self.root))[-1]
        body = (self.root / "patches" / last).read_text()
        self.assertIn(f'+version = "{OTHER_RELEASE}+polaroid"', body)
        self.assertEqual(run_fork(self.root, "check").returncode, 0)

    def test_rebase_abort_restores_the_pinned_tree(self) -> None:
        self.sync()
        tree = self.root / "polars-fork" / "crates"
        manifest = tree / "polars-core" / "Cargo.toml"
        pin = fork.Project(self.root).pin()
        manifest.write_text(manifest.read_text().replace(f'version = "{pin}"', 'version = "9.9.9"', 1))
        tree_git(self.root, "commit", "-q", "-am", "Conflicting version")
        self.assertEqual(run_fork(self.root, "export").returncode, 0)
        head = tree_git(self.root, "rev-parse", "HEAD")
        self.assertEqual(run_fork(self.root, "rebase", "--to", OTHER_RELEASE).returncode, 1)
        proc = run_fork(self.root, "rebase-abort")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(tree_git(self.root, "rev-parse", "HEAD"), head)
        self.assertIn('version = "9.9.9"', manifest.read_text())
        self.assertEqual(fork.Project(self.root).pin(), pin)


if __name__ == "__main__":
    unittest.main()
