#!/usr/bin/env python3
"""Remove the PyO3 layer from a materialized Polars tree (generator of patch 0001).

Run inside polars-fork/crates, review, commit, and `make fork-export`:

    python3 ci/strip_python.py polars-fork/crates

What it does, mechanically:
- Cargo.toml: drops the `python` feature, every `*/python`, `dep:pyo3`,
  `dep:numpy`, `pyo3`, `numpy` feature entry, and the pyo3/numpy dependency
  tables.
- *.rs: deletes every item, statement, field or arm under
  `#[cfg(feature = "python")]` (or a cfg(all(..)) naming it), drops the
  `#[cfg(not(feature = "python"))]` and `#[cfg_attr(feature = "python", ..)]`
  attributes (their code is then unconditional), and deletes module files
  whose `mod` declaration went with the feature.

It also rewrites the expression-level forms: `feature_gated!("python", ..)`
(which would panic) becomes an InvalidOperation error, "python" is dropped
from multi-feature `feature_gated!` lists, and `if cfg!(feature = "python")
{ a } else { b }` becomes `b`. Anything it cannot handle is listed so a
person can finish it. Patch 0001 is exactly this script's output; the queue
tool re-runs it on a rebase (the patch's `Regenerate-With:` field).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

GATE_ITEM = re.compile(r'#\[cfg\((?:all\([^\]]*)?feature\s*=\s*"python"[^\]]*\)\]')
GATE_NOT = re.compile(r'[ \t]*#\[cfg\(not\(feature\s*=\s*"python"\)\)\][ \t]*\n?')
GATE_ATTR = re.compile(r'[ \t]*#\[cfg_attr\(feature\s*=\s*"python",[^\n]*\)\][ \t]*\n?')
MOD_DECL = re.compile(r'^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;')


def skip_trivia(s: str, i: int) -> int:
    """Skip whitespace and comments."""
    while i < len(s):
        if s[i].isspace():
            i += 1
        elif s.startswith("//", i):
            j = s.find("\n", i)
            i = len(s) if j < 0 else j + 1
        elif s.startswith("/*", i):
            j = s.find("*/", i)
            i = len(s) if j < 0 else j + 2
        else:
            break
    return i


def skip_literal(s: str, i: int) -> int:
    """If s[i] starts a string/char/raw-string literal, return its end; else i."""
    c = s[i]
    if c == '"':
        j = i + 1
        while j < len(s):
            if s[j] == "\\":
                j += 2
                continue
            if s[j] == '"':
                return j + 1
            j += 1
        return j
    m = re.match(r'b?r(#*)"', s[i:i + 12]) if c in "rb" and (i == 0 or not (s[i - 1].isalnum() or s[i - 1] == "_")) else None
    if m:
        end = '"' + m.group(1)
        j = s.find(end, i + m.end())
        return len(s) if j < 0 else j + len(end)
    if c == "'":
        # char literal vs lifetime: 'a' / '\n' are literals, 'a is a lifetime.
        m = re.match(r"'(\\.[^']*|[^'\\])'", s[i:i + 12])
        if m:
            return i + m.end()
    return i


ITEM_KW = re.compile(r'(?:pub(?:\([^)]*\))?\s+)?(?:fn|impl|struct|enum|trait|mod|use|type|const|static|'
                     r'unsafe|extern|macro_rules!|async|let)\b')
FIELD = re.compile(r'(?:pub(?:\([^)]*\))?\s+)?[A-Za-z_][A-Za-z0-9_]*\s*:[^:]')


def head_after_attrs(s: str, i: int) -> int:
    """Skip further attributes and comments to where the gated thing's own text starts."""
    i = skip_trivia(s, i)
    while s.startswith("#[", i) or s.startswith("#![", i):
        depth = 0
        j = i
        while j < len(s):
            if s[j] == "[":
                depth += 1
            elif s[j] == "]":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        i = skip_trivia(s, j + 1)
    return i


def item_end(s: str, i: int) -> int:
    """End (exclusive) of the item/statement/field/arm starting at i."""
    head = head_after_attrs(s, i)
    # Items and `let` end at `;` or their closing `}`; commas inside their
    # generics (`HashMap<K, V>`) must not end them. Fields end at a comma
    # outside `<..>`. Arms, variants and elements end at a comma.
    is_item = bool(ITEM_KW.match(s, head))
    is_field = not is_item and bool(FIELD.match(s, head))
    angle = 0
    depth = 0
    j = i
    while j < len(s):
        if s.startswith("//", j) or s.startswith("/*", j):
            j = skip_trivia(s, j)
            continue
        k = skip_literal(s, j)
        if k != j:
            j = k
            continue
        c = s[j]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                return j  # the gated thing was the last element of its container
            if depth == 0 and c == "}":
                nxt = skip_trivia(s, j + 1)
                if nxt < len(s) and s[nxt] in ",;":
                    return nxt + 1
                # A `}` followed by these continues the same arm/expression: `Foo { .. } => x`.
                if s.startswith(("else", ".", "?", "=>", "|", "as "), nxt):
                    j += 1
                    continue
                # `}` closing an item body at the top level ends it (fn, impl, struct, arm block).
                return j + 1
        elif is_field and c == "<":
            angle += 1
        elif is_field and c == ">" and s[j - 1] != "-":
            angle -= 1
        elif depth == 0 and c == ";":
            return j + 1
        elif depth == 0 and c == "," and not is_item and angle == 0:
            return j + 1
        j += 1
    return j


def strip_rs(text: str) -> tuple[str, list[str]]:
    removed_mods: list[str] = []
    out = []
    pos = 0
    while True:
        m = GATE_ITEM.search(text, pos)
        if not m:
            out.append(text[pos:])
            break
        start = m.start()
        # Delete the whole line when the attribute begins it.
        line_start = text.rfind("\n", 0, start) + 1
        if text[line_start:start].strip() == "":
            start = line_start
            # Doc comments and attributes directly above belong to the same item.
            while start > 0:
                prev_start = text.rfind("\n", 0, start - 1) + 1
                prev = text[prev_start:start].strip()
                if prev.startswith("///") or (prev.startswith("#[") and prev.endswith("]")):
                    start = prev_start
                else:
                    break
        end = item_end(text, m.end())
        item = text[m.end():end]
        mm = MOD_DECL.match(item)
        if mm:
            removed_mods.append(mm.group(1))
        # Swallow the rest of the line if only whitespace follows.
        nl = text.find("\n", end)
        if nl >= 0 and (text[end:nl].strip() == "" or text[end:nl].strip().startswith("//")):
            end = nl + 1
        out.append(text[pos:start])
        pos = end
    text = "".join(out)
    text = GATE_NOT.sub("", text)
    text = GATE_ATTR.sub("", text)
    return text, removed_mods


def module_files(rs: Path, name: str) -> list[Path]:
    base = rs.parent if rs.name in ("lib.rs", "main.rs", "mod.rs") else rs.parent / rs.stem
    return [p for p in (base / f"{name}.rs", base / name) if p.exists()]


FEATURE_ENTRY = re.compile(
    r'^[ \t]*"(?:[a-z0-9_-]+\??/python|dep:pyo3|dep:numpy|pyo3|numpy|python)",?[ \t]*\n', re.M)
PYTHON_FEATURE = re.compile(r'^python\s*=\s*\[[^\]]*\]\s*\n', re.M)
DEP_TABLE = re.compile(r'^\[(?:target\.[^\]]+\.)?dependencies\.(?:pyo3|numpy)\]\n(?:(?!\[).*\n?)*', re.M)


def strip_manifest(text: str) -> str:
    text = PYTHON_FEATURE.sub("", text)
    text = FEATURE_ENTRY.sub("", text)
    text = DEP_TABLE.sub("", text)
    # Single-line arrays: `x = ["a", "python"]`.
    text = re.sub(r'"(?:[a-z0-9_-]+\??/python|dep:pyo3|dep:numpy|python)",\s*', "", text)
    text = re.sub(r',\s*"(?:[a-z0-9_-]+\??/python|dep:pyo3|dep:numpy|python)"', "", text)
    return text


UNSUPPORTED = ('polars_error::polars_bail!(InvalidOperation: "this operation needs the Python layer, '
               'which Polaroid does not include")')


def matching(s: str, i: int) -> int:
    """Index just past the bracket that closes the one at s[i]."""
    depth = 0
    j = i
    while j < len(s):
        k = skip_literal(s, j)
        if k != j:
            j = k
            continue
        if s.startswith("//", j) or s.startswith("/*", j):
            j = skip_trivia(s, j)
            continue
        if s[j] in "([{":
            depth += 1
        elif s[j] in ")]}":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise ValueError("unbalanced brackets")


def strip_expressions(text: str) -> str:
    """The expression-level forms: feature_gated! and cfg!(feature = "python")."""
    # feature_gated!("a";"python", {..}) -> feature_gated!("a", {..})
    text = re.sub(r'feature_gated!\(((?:"[^"]+";)*)"python";', r'feature_gated!(\1', text)
    text = re.sub(r'feature_gated!\(((?:"[^"]+";)+)"python",', lambda m: f'feature_gated!({m.group(1)[:-1]},', text)
    # feature_gated!("python", {..}) would panic at run time: return an error instead.
    while (m := re.search(r'feature_gated!\("python",', text)):
        end = matching(text, m.end() - len('"python",') - 1)
        text = text[:m.start()] + UNSUPPORTED + text[end:]
    # if cfg!(feature = "python") { A } else { B }  ->  B
    while (m := re.search(r'if cfg!\(feature = "python"\) \{', text)):
        a_end = matching(text, m.end() - 1)
        e = re.compile(r'\s*else\s*\{').match(text, a_end)
        if not e:
            raise ValueError("`if cfg!(feature = \"python\")` without else")
        b_end = matching(text, e.end() - 1)
        body = text[e.end():b_end - 1]
        indent = re.match(r"[ \t]*", text[text.rfind("\n", 0, m.start()) + 1:]).group(0)
        lines = [l[4:] if l.startswith(indent + "    ") else l for l in body.strip("\n").rstrip().split("\n")]
        text = text[:m.start()] + "\n".join(lines).lstrip() + text[b_end:]
    return text


def main(root: str) -> int:
    tree = Path(root)
    for manifest in sorted(tree.glob("*/Cargo.toml")):
        text = manifest.read_text()
        new = strip_manifest(text)
        if new != text:
            manifest.write_text(new)
    leftovers = []
    for rs in sorted(tree.rglob("*.rs")):
        if not rs.exists():
            continue  # deleted as a gated module below
        text = rs.read_text()
        if "python" not in text:
            continue
        new, mods = strip_rs(text)
        new = strip_expressions(new)
        if new != text:
            rs.write_text(new)
        for name in mods:
            for f in module_files(rs, name):
                if f.is_dir():
                    import shutil
                    shutil.rmtree(f)
                else:
                    f.unlink()
        for no, line in enumerate(new.splitlines(), 1):
            if '"python"' in line or "pyo3::" in line:
                leftovers.append(f"{rs.relative_to(tree)}:{no}: {line.strip()}")
    if leftovers:
        print("left for a person to finish:")
        print("\n".join(leftovers))
    return 0


if __name__ == "__main__":
    # The queue tool runs generators with the tree in POLAROID_FORK_TREE.
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("POLAROID_FORK_TREE", "polars-fork/crates")))
