"""The compaction the model generators share (scripts/gen-*-model.py): a botocore model
reduced to the input shapes of some operations, without documentation strings, written to
a crate's model/. A generator names its operations and calls `main`.

botocore patterns are Java regular expressions. The Rust `regex` crate has no
look-around; the only look-around botocore uses in these shapes is a leading length
guard `(?=.{m,n}$)`, which duplicates the shape's min/max, so it is dropped from the
`regex` we match with (the original `pattern` is kept for error messages). The model
package group operations add one more: a trailing `(?<!-)` (no final hyphen) after a
bounded name class, rewritten without look-behind (see `matchable`).
"""
import gzip
import json
import os
import re
import sys


def load(path=None, reference=None, botocore_model=None):
    """The botocore model to compact: the file at `path` when given; else the extracted
    `reference` copy when there is one; else `botocore_model` (such as
    "sagemaker/2017-07-24") from the installed botocore, whose data may be gzipped."""
    if not path and botocore_model and not (reference and os.path.exists(reference)):
        import botocore  # noqa: PLC0415
        base = os.path.join(os.path.dirname(botocore.__file__), "data", botocore_model, "service-2.json")
        if not os.path.exists(base):
            with gzip.open(base + ".gz", "rt") as f:
                return json.load(f)
        path = base
    path = path or reference
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        return json.load(f)


KEEP = ("type", "min", "max", "pattern", "enum")
LENGTH_GUARD = re.compile(r"^\(\?=\.\{\d+,\d+\}\$\)")
# A name that may not end with a hyphen, written with a trailing look-behind:
# `([a-zA-Z0-9]([a-zA-Z0-9-]){0,N})(?<!-)`. Equivalent without look-around:
# `([a-zA-Z0-9]([a-zA-Z0-9-]{0,N-1}[a-zA-Z0-9])?)`.
NO_TRAILING_HYPHEN = re.compile(r"\(\[a-zA-Z0-9\]\(\[a-zA-Z0-9-\]\)\{0,(\d+)\}\)\(\?<!-\)$")


def matchable(pattern):
    """The pattern in a form the Rust `regex` crate compiles (no look-around)."""
    out = LENGTH_GUARD.sub("", pattern)
    m = NO_TRAILING_HYPHEN.search(out)
    if m:
        n = int(m.group(1))
        out = out[: m.start()] + f"([a-zA-Z0-9]([a-zA-Z0-9-]{{0,{n - 1}}}[a-zA-Z0-9])?)"
    return out


def target(ref):
    """Member references are a name (extracted copy) or {"shape": name} (botocore)."""
    return ref if isinstance(ref, str) else ref["shape"]


def compact(src, operations):
    """The operations' input shapes and everything they reach, without documentation."""
    shapes, ops, out = src["shapes"], src["operations"], {}

    def walk(name):
        if name is None or name in out:
            return
        s = shapes[name]
        o = {k: s[k] for k in KEEP if k in s}
        if s["type"] == "structure":
            # Sorted, as the extracted reference copies are, so that either source gives
            # the same file (the validator reports errors in member order).
            o["members"] = [[m, target(r)] for m, r in sorted(s.get("members", {}).items())]
            o["required"] = s.get("required", [])
        for k in ("member", "key", "value"):
            if k in s:
                o[k] = target(s[k])
        if "pattern" in s:
            stripped = matchable(s["pattern"])
            if stripped != s["pattern"]:
                o["regex"] = stripped
        out[name] = o
        for _, m in o.get("members", []):
            walk(m)
        for k in ("member", "key", "value"):
            walk(o.get(k))

    model_ops = {}
    for op in operations:
        inp = ops[op].get("input")
        inp = target(inp) if inp else None
        model_ops[op] = {"input": inp}
        walk(inp)
    return model_ops, dict(sorted(out.items()))


def write(dest, source, model_ops, shapes):
    model = {"source": source, "operations": model_ops, "shapes": shapes}
    with open(dest, "w") as f:
        json.dump(model, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"wrote {len(shapes)} shapes for {len(model_ops)} operations to {os.path.normpath(dest)}")


def generate(src, operations, model, source, regex=None):
    """Compacts `src` to `operations` and writes it to crates/`model`, naming `source`.
    `regex` maps patterns the Rust `regex` crate cannot compile to ones it can."""
    model_ops, shapes = compact(src, operations)
    for shape in shapes.values():
        if shape.get("pattern") in (regex or {}):
            shape["regex"] = regex[shape["pattern"]]
    dest = os.path.join(os.path.dirname(__file__), "..", "crates", model)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    write(dest, source, model_ops, shapes)


def main(operations, model, botocore_model, regex=None, reference=None):
    """A generator's whole run: the source given on the command line, else `reference`
    (when there is one), else `botocore_model` (such as "events/2015-10-07") from the
    installed botocore; compacted to `operations` and written to crates/`model`, its
    `source` naming the botocore model and the generator."""
    src = load(sys.argv[1] if len(sys.argv) > 1 else None,
               reference=reference, botocore_model=botocore_model)
    service, version = botocore_model.split("/")
    script = os.path.basename(sys.argv[0])
    generate(src, operations, model,
             f"botocore {service} {version} service-2.json (generated by scripts/{script})",
             regex=regex)
