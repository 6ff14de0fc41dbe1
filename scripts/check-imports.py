#!/usr/bin/env python3
"""Checks that Package.swift and the `import` lines agree, target by target.

SwiftPM lets a target import any module it reaches transitively, so a missing declaration builds
until the dependency graph changes; and its own --explicit-target-dependency-import-check needs
explicit module builds, which the system-library shims here do not support. This reads the
manifest (`swift package dump-package`) and every Swift file of each target, and fails, naming
the target and module, when a target imports a module of the package graph it does not declare,
or declares one it never imports.
"""
import json
import os
import re
import subprocess
import sys

# Modules of the toolchain and the platform: importing them needs no declaration.
PLATFORM = {"Foundation", "FoundationEssentials", "FoundationNetworking", "Glibc", "Darwin", "Musl",
            "Dispatch", "Synchronization", "System", "Testing", "XCTest", "_Concurrency", "os"}
IMPORT = re.compile(r"^\s*(?:@[A-Za-z_]+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|private|fileprivate)\s+)?import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)


def header(source):
    """The lines before the first declaration: imports, conditions, comments (so that an import
    line inside a string literal, such as an embedded Python script, is not taken for one)."""
    lines = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped and not (stripped.startswith(("//", "/*", "*", "#if", "#else", "#elseif", "#endif", "@"))
                             or IMPORT.match(line)):
            break
        lines.append(line)
    return "\n".join(lines)


def declared(dependency):
    for kind in ("byName", "target", "product"):
        if kind in dependency:
            return dependency[kind][0]
    raise ValueError(f"unknown dependency form: {dependency}")


def main():
    manifest = json.loads(subprocess.run(["swift", "package", "dump-package"], check=True, capture_output=True, text=True).stdout)
    problems = []
    for target in manifest["targets"]:
        if target["type"] == "system":
            continue
        name = target["name"]
        path = target.get("path") or os.path.join("Tests" if target["type"] == "test" else "Sources", name)
        imports = set()
        for root, _, files in os.walk(path):
            for file in files:
                if file.endswith(".swift"):
                    with open(os.path.join(root, file), encoding="utf-8") as handle:
                        imports.update(IMPORT.findall(header(handle.read())))
        wanted = {declared(d) for d in target["dependencies"]}
        for module in sorted(imports - wanted - PLATFORM):
            problems.append(f"{name} imports {module} but Package.swift does not declare it")
        for module in sorted(wanted - imports):
            problems.append(f"{name} declares {module} in Package.swift but never imports it")
    for problem in problems:
        print(f"check-imports: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"check-imports: the imports of {sum(1 for t in manifest['targets'] if t['type'] != 'system')} targets match Package.swift")


if __name__ == "__main__":
    main()
