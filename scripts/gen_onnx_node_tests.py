#!/usr/bin/python3
"""Regenerates tests/fixtures/onnx-node/: the ONNX backend node-test cases of hq's float op set.

Debian's python3-onnx ships the generators of the backend node tests, not their data. This
script runs `onnx.backend.test.cmd_tools generate-data` into a temporary folder and keeps
the node cases whose model uses only ops of lib/ir/ops.def (subgraphs included).

Usage: /usr/bin/python3 scripts/gen_onnx_node_tests.py [--out tests/fixtures/onnx-node]

The generators draw from numpy's global RNG without a seed; the RNG is seeded here so that
regenerating gives the same bytes for the same onnx/numpy versions.
"""

import argparse
import collections
import os
import re
import shutil
import sys
import tempfile
import warnings

import numpy as np

# numpy 1.24 removed these aliases; onnx 1.12's generators still use them.
for _name, _type in (("float", float), ("int", int), ("bool", bool), ("object", object),
                     ("str", str), ("complex", complex)):
    if _name not in np.__dict__:
        setattr(np, _name, _type)
warnings.filterwarnings("ignore", category=DeprecationWarning)

import onnx  # noqa: E402  (after the aliases)
from onnx.backend.test import cmd_tools  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def listed_ops():
    """Op types of lib/ir/ops.def (HQ_OP(Name, ...) lines)."""
    with open(os.path.join(ROOT, "lib", "ir", "ops.def")) as f:
        return set(re.findall(r"^HQ_OP\((\w+),", f.read(), re.M))


def graph_ops(graph):
    """(domain, op_type) of every node, subgraphs included."""
    ops = set()
    for node in graph.node:
        ops.add((node.domain, node.op_type))
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                ops |= graph_ops(attr.g)
            for g in attr.graphs:
                ops |= graph_ops(g)
    return ops


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "onnx-node"))
    args = parser.parse_args()

    ops = listed_ops()
    np.random.seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        cmd_tools.generate_data(argparse.Namespace(output=tmp, op_type=None))
        node_dir = os.path.join(tmp, "node")
        cases = sorted(os.listdir(node_dir))
        kept, excluded, per_op = [], collections.Counter(), collections.Counter()
        for case in cases:
            model = onnx.load(os.path.join(node_dir, case, "model.onnx"))
            used = graph_ops(model.graph)
            outside = sorted(t if d in ("", "ai.onnx") else f"{d}:{t}" for d, t in used
                             if d not in ("", "ai.onnx") or t not in ops)
            if not used:
                excluded["(no nodes)"] += 1
            elif outside:
                # Only count cases that touch a listed op: the rest are simply other ops.
                if any(t in ops for d, t in used if d in ("", "ai.onnx")):
                    excluded["+".join(outside)] += 1
                else:
                    excluded["(no listed op)"] += 1
            else:
                kept.append(case)
                per_op.update(t for _, t in used)

        if os.path.exists(args.out):
            shutil.rmtree(args.out)
        os.makedirs(args.out)
        for case in kept:
            shutil.copytree(os.path.join(node_dir, case), os.path.join(args.out, case))

    total = sum(os.path.getsize(os.path.join(d, f))
                for d, _, fs in os.walk(args.out) for f in fs)
    print(f"{len(cases)} node cases generated; kept {len(kept)} in {args.out} "
          f"({total / 1e6:.2f} MB)")
    mixed = sum(n for k, n in excluded.items() if not k.startswith("("))
    print(f"excluded {mixed} cases that mix listed ops with ops outside the list:")
    for k, n in sorted(excluded.items()):
        if not k.startswith("("):
            print(f"  {n:3d}  {k}")
    print(f"excluded {excluded['(no listed op)']} cases without any listed op")
    print("kept cases per listed op: " +
          ", ".join(f"{op} {per_op[op]}" for op in sorted(ops)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
