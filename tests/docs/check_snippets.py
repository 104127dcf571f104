#!/usr/bin/env python3
"""Checks that every code block in a Markdown file that is marked as quoted from an
example really appears in that example, line for line.

A quoted block is preceded by a line `<!-- quote: examples/NN_name.cpp -->`.
Usage: check_snippets.py REPO_ROOT FILE.md...
"""
import pathlib
import re
import sys

MARK = re.compile(r"<!-- quote: (\S+) -->")


def blocks(text):
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = MARK.search(line)
        if not m:
            continue
        start = i + 1
        if start >= len(lines) or not lines[start].startswith("```"):
            yield m.group(1), None, i + 1
            continue
        end = start + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        yield m.group(1), lines[start + 1:end], i + 1


def main():
    root = pathlib.Path(sys.argv[1])
    failures, checked = [], 0
    for md in sys.argv[2:]:
        for source, block, line in blocks(pathlib.Path(md).read_text()):
            if block is None:
                failures.append(f"{md}:{line}: quote mark not followed by a code block")
                continue
            text = (root / source).read_text()
            if "\n".join(block) not in text:
                failures.append(f"{md}:{line}: the block is not in {source} (stale quote?)")
            checked += 1
    for f in failures:
        print(f)
    print(f"{checked - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures or checked == 0 else 0)


if __name__ == "__main__":
    main()
