#!/usr/bin/env python3
"""Lists import cycles between the files of a crate's module tree.

Each `.rs` file under SRC is a module; an edge A -> B means A names a path into B
(`use crate::…`, `use super::…`, `crate::x::y` in code). Declaring a child module (`mod x;`) and
re-exporting it (`pub use x::…`) are not imports: they are how a parent presents its children.
Unit tests (`#[cfg(test)]` and all after it) are left out. Exits 1 and prints every cycle (strongly connected set of two or more files) when there is one.

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
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("pub use") or stripped.startswith("pub(crate) use"):
                continue  # a re-export presents a child; it is not a dependency of this file
            if is_dir_module:
                # Paths into a child module, relative to this one (`devices::list`, `self::x`).
                for match in re.finditer(r"(?<![:\w])(?:self::)?([a-z_][a-z0-9_]*)((?:::[A-Za-z_][A-Za-z0-9_]*)+)", line):
                    child = module + (match.group(1),)
                    if child in files and not stripped.startswith(("mod ", "pub mod ", "pub(crate) mod ")):
                        target = resolve(child + tuple(match.group(2).split("::")[1:]))
                        if target is not None and target != module:
                            edges[module].add(target)
            for match in re.finditer(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)", line):
                head, rest = match.group(1), match.group(2).split("::")[1:]
                if head == "crate":
                    base = ()
                else:
                    base = module if is_dir_module else module[:-1]
                    while rest and rest[0] == "super":
                        base = base[:-1]
                        rest = rest[1:]
                    if is_dir_module:
                        base = base[:-1]
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
