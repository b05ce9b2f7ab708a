#!/usr/bin/env python3
"""Regenerate the compact CloudFormation resource-schema bundle used by sagestack-providers.

Source: the resource provider schemas that the `cfn-lint` package (MIT-0) ships for
us-east-1 (`cfnlint/data/schemas/providers/us_east_1.py` maps each type name to a file
under `cfnlint/data/schemas/resources/`). They derive from the schemas AWS publishes.

The bundle keeps only what validation and the schema-driven provider need: the validation
keywords of every (sub)schema, `definitions`, and the resource-level facts (required,
additionalProperties, create-only / read-only / write-only properties, primaryIdentifier,
taggable). Descriptions, documentation links, handlers, examples and defaults are dropped.

cfn-lint patches the AWS schemas before shipping them. Its `format` patches are kept
(`AWS::EC2::VPC.Id` and the like shape generated attribute values), as are its fixes to
the schemas themselves (`patches/providers/`). Its *service* constraints are reverted by
default: `patches/extensions/all/<type>/smithy.json` and `manual.json` add enums, patterns
and limits taken from the service API models and documentation (Lambda runtimes, EC2
instance types...). CloudFormation does not check those when it validates properties
against the registry schema (the service does, later, in its own words), and a bundled
copy of such lists goes stale and would reject values AWS accepts. Pass
--keep-service-constraints to keep them.

Output: crates/providers/data/schemas.json.gz (gzip, level 9), a JSON object
    {"source": "...", "types": {"AWS::S3::Bucket": {...}, ...}}
written with sorted keys so that regenerating from the same cfn-lint version is a no-op.

Usage:
    python3 scripts/gen-provider-schemas.py [--cfnlint DIR] [--out FILE]
If cfn-lint is not importable: pip install --target /tmp/cfnlint cfn-lint
and pass --cfnlint /tmp/cfnlint/cfnlint (never commit that directory).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import os
import sys

# Keywords kept on every (sub)schema. Everything else (description, title, examples,
# default, insertionOrder, relationshipRef, $comment, ...) is dropped.
SCHEMA_KEYWORDS = {
    "type", "$ref", "properties", "patternProperties", "additionalProperties",
    "required", "items", "enum", "enumCaseInsensitive", "const", "pattern",
    "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "minProperties",
    "maxProperties", "oneOf", "anyOf", "allOf", "format",
}
# Keywords whose value is a map of name -> subschema.
MAP_KEYWORDS = {"properties", "patternProperties"}
# Keywords whose value is a list of subschemas.
LIST_KEYWORDS = {"oneOf", "anyOf", "allOf"}
# Keywords whose value is a single subschema (or a boolean for additionalProperties).
ONE_KEYWORDS = {"items", "additionalProperties"}


def compact(schema):
    """Keep only the validation keywords of `schema`, recursively."""
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key not in SCHEMA_KEYWORDS:
            continue
        if key in MAP_KEYWORDS and isinstance(value, dict):
            out[key] = {name: compact(sub) for name, sub in value.items()}
        elif key in LIST_KEYWORDS and isinstance(value, list):
            out[key] = [compact(sub) for sub in value]
        elif key in ONE_KEYWORDS:
            out[key] = compact(value)
        else:
            out[key] = value
    return out


def resource_entry(doc):
    props = doc.get("properties", {})
    tagging = doc.get("tagging") or {}
    taggable = bool(tagging.get("taggable", doc.get("taggable", False))) or "Tags" in props
    entry = {
        "properties": {name: compact(sub) for name, sub in props.items()},
        "definitions": {
            name: compact(sub) for name, sub in (doc.get("definitions") or {}).items()
        },
        "required": doc.get("required", []),
        "additionalProperties": doc.get("additionalProperties", True),
        "createOnlyProperties": doc.get("createOnlyProperties", []),
        "readOnlyProperties": doc.get("readOnlyProperties", []),
        "writeOnlyProperties": doc.get("writeOnlyProperties", []),
        "primaryIdentifier": doc.get("primaryIdentifier", []),
        "taggable": taggable,
    }
    for key in ("oneOf", "anyOf", "allOf"):
        if key in doc:
            entry[key] = [compact(sub) for sub in doc[key]]
    # Drop empty members to keep the bundle small; the loader treats them as absent.
    return {k: v for k, v in entry.items() if v not in ([], {})}


# Patch files whose "add" operations are reverted unless --keep-service-constraints.
SERVICE_CONSTRAINT_PATCHES = ("smithy.json", "manual.json")


def revert_service_constraints(doc, type_name, cfnlint_dir):
    """Undo the `add` operations of cfn-lint's service-constraint patches for one type.

    Returns how many were undone. An `add` whose parent no longer exists is skipped.
    """
    folder = type_name.lower().replace("::", "_")
    base = os.path.join(cfnlint_dir, "data", "schemas", "patches", "extensions", "all", folder)
    undone = 0
    for patch_name in SERVICE_CONSTRAINT_PATCHES:
        path = os.path.join(base, patch_name)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            ops = json.load(f)
        for op in ops:
            if op.get("op") != "add":
                continue
            parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
            node = doc
            for part in parts[:-1]:
                if isinstance(node, dict) and part in node:
                    node = node[part]
                elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                else:
                    node = None
                    break
            if isinstance(node, dict) and parts and parts[-1] in node:
                del node[parts[-1]]
                undone += 1
    return undone


def load_type_map(cfnlint_dir):
    """Parse providers/us_east_1.py (a `types = {name: hash}` literal) without importing it."""
    path = os.path.join(cfnlint_dir, "data", "schemas", "providers", "us_east_1.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        if getattr(target, "id", None) == "types":
            return ast.literal_eval(node.value)
    raise SystemExit(f"no `types` mapping in {path}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfnlint", help="path of the cfnlint package directory")
    parser.add_argument(
        "--out", default=os.path.join(here, "..", "crates", "providers", "data", "schemas.json.gz")
    )
    parser.add_argument(
        "--keep-service-constraints",
        action="store_true",
        help="keep cfn-lint's smithy/manual constraint patches (see the module docstring)",
    )
    args = parser.parse_args()

    cfnlint_dir = args.cfnlint
    version = "unknown"
    if cfnlint_dir is None:
        import cfnlint  # noqa: PLC0415

        cfnlint_dir = os.path.dirname(cfnlint.__file__)
    try:
        from importlib.metadata import version as dist_version  # noqa: PLC0415

        version = dist_version("cfn-lint")
    except Exception:  # noqa: BLE001
        pass

    types = load_type_map(cfnlint_dir)
    resources_dir = os.path.join(cfnlint_dir, "data", "schemas", "resources")
    kept = "kept" if args.keep_service_constraints else "reverted"
    bundle = {
        "source": f"cfn-lint {version}, us-east-1 provider schemas, "
        f"service-constraint patches {kept}",
        "types": {},
    }
    raw_bytes = 0
    reverted = 0
    for type_name, digest in sorted(types.items()):
        # `Module` is cfn-lint's own pseudo type for CloudFormation modules, not a resource.
        if "::" not in type_name:
            continue
        with open(os.path.join(resources_dir, f"{digest}.json"), encoding="utf-8") as f:
            text = f.read()
        raw_bytes += len(text)
        doc = json.loads(text)
        if not args.keep_service_constraints:
            reverted += revert_service_constraints(doc, type_name, cfnlint_dir)
        bundle["types"][type_name] = resource_entry(doc)

    data = json.dumps(bundle, sort_keys=True, separators=(",", ":")).encode("utf-8")
    # mtime=0 keeps the gzip header stable so identical input gives identical bytes.
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "wb") as f:
        f.write(packed)
    print(
        f"{len(bundle['types'])} types; {reverted} service-constraint additions reverted; "
        f"source schemas {raw_bytes} bytes; "
        f"bundle {len(data)} bytes raw, {len(packed)} bytes gzip -> {args.out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
