#!/usr/bin/env python3
"""Check Roundtable's OCDS export with the reference tools (run by tests/ocds.rs).

    python3 tests/ocds/check_ocds.py RELEASE_SCHEMA RELEASE_PACKAGE RECORD_PACKAGE

- every release of RELEASE_PACKAGE, and the compiled release of RECORD_PACKAGE, is
  valid against RELEASE_SCHEMA (the OCDS release schema with the PPP profile, JSON
  Schema draft-04) with Python's jsonschema;
- ocdsmerge's compiled release of the package's releases equals the compiled release
  that Roundtable wrote in RECORD_PACKAGE (`roundtable export-ocds --compiled`).

Prints one line of JSON and exits 0 when all holds; exits 1 naming what differs, and 3
when a package is missing (saying what to install).
"""

import importlib.metadata
import json
import sys

PINS = "ocdsmerge==0.8.0 jsonschema==4.26.0"

try:
    import jsonschema
    import ocdsmerge
except ImportError as e:
    print(f"missing Python package ({e}): python3 -m pip install {PINS}", file=sys.stderr)
    sys.exit(3)


def first_difference(a, b, path="$"):
    """The path of the first place two JSON values differ, or None."""
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: only in {'ocdsmerge' if key in a else 'roundtable'}"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def main():
    schema_path, releases_path, record_path = sys.argv[1:4]
    with open(schema_path) as f:
        schema = json.load(f)
    with open(releases_path) as f:
        package = json.load(f)
    with open(record_path) as f:
        record_package = json.load(f)

    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    releases = package["releases"]
    problems = []
    for release in releases:
        for error in validator.iter_errors(release):
            problems.append(f"release {release.get('id')}: {error.message} at /{'/'.join(map(str, error.absolute_path))}")
    ours = record_package["records"][0]["compiledRelease"]
    for error in validator.iter_errors(ours):
        problems.append(f"compiled release: {error.message} at /{'/'.join(map(str, error.absolute_path))}")
    if problems:
        print("\n".join(problems[:20]), file=sys.stderr)
        sys.exit(1)

    merged = ocdsmerge.Merger(schema=schema).create_compiled_release(releases)
    difference = first_difference(merged, ours)
    if difference:
        print(f"ocdsmerge's compiled release differs from roundtable's: {difference}", file=sys.stderr)
        sys.exit(1)
    if record_package["records"][0]["releases"] != releases:
        print("the record's releases are not the release package's", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({
        "releases": len(releases),
        "tags": [r["tag"] for r in releases],
        "compiled_id": merged["id"],
        "ocdsmerge": importlib.metadata.version("ocdsmerge"),
        "jsonschema": importlib.metadata.version("jsonschema"),
    }))


if __name__ == "__main__":
    main()
