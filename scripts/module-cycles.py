#!/usr/bin/env python3
"""Finds import cycles between the files of each crate (`make lint`).

Cargo forbids cycles between crates but not between the modules of one, and
a cycle there is a file that cannot be read, changed or tested without the
others. This reads each `src/` tree as text: a file depends on another when
it names a path into that module (`use crate::a::B`, `crate::a::f()`,
`super::x`, a child module by its name), and a name the crate root
re-exports (`pub use a::B`) counts as a dependency on `a`, not on the root.
`#[cfg(test)]` modules are left out: tests may reach anywhere.

Pairs kept on purpose are listed in ALLOWED with the reason. Any other
cycle is printed, and the exit status is 1.

    scripts/module-cycles.py [ROOT]   # ROOT defaults to the repository
"""

import os
import re
import sys

# (crate directory, module, module): a cycle whose every edge is one of
# these pairs is allowed.
ALLOWED = {
    # A builder's natural pair: a State starts an Exec or a FileOp, and
    # each ends in a new State.
    ("crates/envd-llb", "state", "exec"): "State::run starts an Exec, whose root() is a State",
    ("crates/envd-llb", "state", "file"): "State::file starts a FileOp, whose result is a State",
}

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(text):
    """The code without comments, string literals and #[cfg(test)] modules."""
    text = re.sub(r"(?s)/\*.*?\*/", "", text)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'(?s)r#+".*?"#+', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    cut = re.search(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+" + IDENT + r"\s*\{", text)
    if cut:
        text = text[: cut.start()]
    return text


def modules(src):
    """Maps each module path ('' for the root) to its file."""
    out = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)[:-3].split(os.sep)
            if rel[-1] in ("lib", "main", "mod"):
                rel = rel[:-1]
            out["::".join(rel)] = os.path.join(dirpath, f)
    return out


def use_paths(code):
    """Every path of every `use` tree, expanded: `use a::{b, c::D}` gives
    a::b and a::c::D."""
    paths = []

    def expand(prefix, tree):
        tree = tree.strip()
        m = re.match(r"^(.*?)\{(.*)\}$", tree, re.S)
        if not m:
            paths.append(prefix + tree.split(" as ")[0].strip())
            return
        head, body = m.group(1), m.group(2)
        depth, start = 0, 0
        for i, ch in enumerate(body + ","):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                part = body[start:i].strip()
                if part:
                    expand(prefix + head, part)
                start = i + 1

    for m in re.finditer(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", code):
        expand("", m.group(2))
    return paths


def resolve(path, here, mods):
    """The module a path names, relative to module `here`: the longest
    module prefix of the absolute path."""
    parts = path.split("::")
    if parts[0] == "crate":
        parts = parts[1:]
    elif parts[0] in ("super", "self"):
        base = here.split("::") if here else []
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                base = base[:-1]
            parts = parts[1:]
        parts = base + parts
    else:
        child = (here + "::" + parts[0]) if here else parts[0]
        if child not in mods:
            return None
        parts = (here.split("::") if here else []) + parts
    for n in range(len(parts), -1, -1):
        cand = "::".join(parts[:n])
        if cand in mods:
            return cand, parts[n:]
    return None


def graph(src):
    mods = modules(src)
    codes = {m: strip(open(f, encoding="utf-8").read()) for m, f in mods.items()}
    # Names the root re-exports, and from where.
    # A re-export of another crate's item (`pub use prost::Message`)
    # stands for that crate: no edge.
    reexports = {}
    for path in use_paths(" ".join(re.findall(r"pub\s+use\s+[^;]+;", codes.get("", "")))):
        r = resolve(path, "", mods)
        reexports[path.split("::")[-1]] = r[0] if r and r[0] else None
    edges = {m: set() for m in mods}
    for m, code in codes.items():
        named = use_paths(code)
        named += re.findall(r"(?<![A-Za-z0-9_:])((?:crate|super|self)(?:::" + IDENT + r")+)", code)
        children = [c for c in mods if c.startswith(m + "::" if m else "") and "::" not in c[len(m) + 2 if m else 0:]]
        for c in children:
            leaf = c.split("::")[-1]
            named += re.findall(r"(?<![A-Za-z0-9_:])(" + leaf + r"(?:::" + IDENT + r")+)", code)
        for path in named:
            r = resolve(path, m, mods)
            if r is None:
                continue
            target, rest = r
            if target == "" and rest and rest[0] in reexports:
                target = reexports[rest[0]]
            if target is not None and target != m:
                edges[m].add(target)
    return edges


def cycles(edges):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def self_test():
    """The checker on a small crate it must judge: a cycle through a
    `use` tree, one through an inline path and `super::`, and a re-export
    that is no cycle."""
    import tempfile

    files = {
        "lib.rs": "mod a;\nmod b;\nmod c;\nmod d;\npub use d::Shared;\n",
        "a.rs": "use crate::{b::{self, B}, c};\n",
        "b.rs": "pub struct B;\nfn f() { crate::a::g(); }\n",
        "c.rs": "use crate::Shared;\n",
        "d.rs": "pub struct Shared;\n// crate::c::x in a comment is not a use\n",
    }
    with tempfile.TemporaryDirectory() as src:
        for name, text in files.items():
            with open(os.path.join(src, name), "w") as f:
                f.write(text)
        found = cycles(graph(src))
    assert found == [["a", "b"]], found
    print("module-cycles.py: self-test passed")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    crates = sorted(
        os.path.relpath(os.path.join(d, "src"), root).rsplit(os.sep + "src", 1)[0]
        for d in [os.path.join(root, "frontend")] + [os.path.join(root, "crates", c) for c in os.listdir(os.path.join(root, "crates"))]
        if os.path.isdir(os.path.join(d, "src"))
    )
    bad = 0
    for crate in crates:
        edges = graph(os.path.join(root, crate, "src"))
        for comp in cycles(edges):
            inside = [(a, b) for a in comp for b in sorted(edges[a]) if b in comp]
            unexplained = [
                (a, b) for a, b in inside if (crate, a, b) not in ALLOWED and (crate, b, a) not in ALLOWED
            ]
            if not unexplained:
                continue
            bad += 1
            name = lambda m: m or "(root)"
            print(f"{crate}: import cycle among {', '.join(name(m) for m in comp)}:")
            for a, b in unexplained:
                print(f"    {name(a)} -> {name(b)}")
    if bad:
        print(f"{bad} import cycle(s); break them, or list a pair kept on purpose in scripts/module-cycles.py", file=sys.stderr)
        return 1
    print(f"no import cycles between the files of {len(crates)} crates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
