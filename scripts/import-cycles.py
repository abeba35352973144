#!/usr/bin/env python3
"""Lists import cycles between the files of a crate's module tree.

Each `.rs` file under SRC is a module; an edge A -> B means A names a path into B
(`use crate::…`, `use super::…`, `crate::x::y` in code). Declaring a child module (`mod x;`) and
re-exporting it (`pub use x::…`) are not imports: they are how a parent presents its children.
Unit tests (`#[cfg(test)]` and all after it) are left out. `use` statements are read whole
(over several lines, brace groups expanded). Exits 1 and prints every cycle (strongly connected set of two or more files) when there is one.

Usage: scripts/import-cycles.py engine/src
"""

import re
import sys
from pathlib import Path


def module_of(src: Path, file: Path) -> tuple:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def expand(tree: str) -> list:
    """The paths a `use` tree names: `a::{b, c::{d, e as f}}` gives a::b, a::c::d, a::c::e."""
    tree = re.sub(r"\s+as\s+[A-Za-z_][A-Za-z0-9_]*", "", tree)  # renames do not matter
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix: list, text: str):
        if "{" not in text:
            parts = [p for p in text.split("::") if p]
            if parts and parts[-1] in ("*", "self"):
                parts = parts[:-1]
            out.append(prefix + parts)
            return
        head, inner = text.split("{", 1)
        inner = inner[: inner.rfind("}")]
        head_parts = [p for p in head.split("::") if p]
        depth, start = 0, 0
        for i, ch in enumerate(inner + ","):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                item = inner[start:i]
                start = i + 1
                if item:
                    walk(prefix + head_parts, item)

    walk([], tree)
    return out


def main() -> int:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "engine/src")
    files = {module_of(src, f): f for f in src.rglob("*.rs")}
    # `#[path]` test modules and inline modules belong to the file that holds them.
    def resolve(path: tuple):
        while path and path not in files:
            path = path[:-1]
        return path if path in files else None

    edges = {m: set() for m in files}
    for module, file in files.items():
        text = file.read_text()
        text = re.sub(r"//[^\n]*", "", text)
        # Unit tests may look anywhere in their crate; only the code that ships counts.
        text = text.split("#[cfg(test)]")[0]
        is_dir_module = file.name in ("mod.rs", "lib.rs", "main.rs")
        paths = []
        # `use` statements, over as many lines as they take, with their brace groups expanded.
        # A re-export (`pub use`, `pub(…) use`) presents a child; it is not a dependency.
        def take_use(match):
            if not match.group(1):
                paths.extend(expand(match.group(2)))
            return ""
        code = re.sub(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", take_use, text)
        # Paths in code (`crate::x::f()`, `super::describe(e)`) and paths into the module's
        # children (`devices::list`).
        for match in re.finditer(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)", code):
            paths.append(match.group(1).split("::"))
        for line in code.splitlines():
            if line.strip().startswith(("mod ", "pub mod ", "pub(crate) mod ")):
                continue
            for match in re.finditer(r"(?<![:\w])([a-z_][a-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)+)", line):
                parts = match.group(1).split("::")
                if module + (parts[0],) in files:
                    paths.append(["self"] + parts)
        for parts in paths:
            head, rest = parts[0], parts[1:]
            if head == "crate":
                base = ()
            elif head == "self":
                base = module
            elif head == "super":
                base = module[:-1]
                while rest and rest[0] == "super":
                    base = base[:-1]
                    rest = rest[1:]
            elif module + (head,) in files:
                base, rest = module, parts  # `use child::Item;`
            else:
                continue  # another crate, or a name in scope
            target = resolve(base + tuple(rest))
            if target is not None and target != module:
                edges[module].add(target)
    # Tarjan's strongly connected components.
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            visit(v)
    for component in out:
        names = sorted(str(files[m]) for m in component)
        print("cycle:", " <-> ".join(names))
        for m in sorted(component):
            for w in sorted(edges[m] & set(component)):
                print(f"  {files[m]} -> {files[w]}")
    if not out:
        print(f"no import cycles among {len(files)} files")
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())
