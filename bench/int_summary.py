"""Tables of bench/run_int_inference.sh results (one JSON object per line).

Speed: median and best img/s over rounds per model and runtime, every round's img/s, the
median load average, and (of the medians, and of the bests) hq-int's and hq-qdq's ratios to ONNX Runtime on hq's QDQ model, to PyTorch int8 and to
the faster of the two (issue 4's goal: >= 1.0x on mobilenetv2_32). Accuracy (--accuracy
rows): top-1 of each, its difference from hq-eval on the QDQ model, and the fraction of test
images whose top-1 prediction agrees with hq-eval's on the QDQ model (from the dumped
logits); plus which ops ONNX Runtime actually ran on the QDQ model (its optimized graph).
    python3 bench/int_summary.py RESULTS.jsonl [LABELS.npy]
"""
import collections
import json
import os
import statistics
import sys

import numpy as np


def speed_table(rows):
    by_model = collections.OrderedDict()
    for r in rows:
        if "img_per_s" in r and not r["runtime"].startswith("acc "):
            by_model.setdefault(r["name"], collections.OrderedDict()).setdefault(
                r["runtime"], []).append(r)
    if not by_model:
        return
    print("model | runtime | img/s (median) | img/s (best) | runs (img/s) | load1 (median) "
          "| peak RSS MiB")
    for name, m in by_model.items():
        ips, best = {}, {}
        for rt, rs in m.items():
            ips[rt] = statistics.median(r["img_per_s"] for r in rs)
            best[rt] = max(r["img_per_s"] for r in rs)
            runs = ", ".join(str(round(r["img_per_s"])) for r in rs)
            load = statistics.median(r.get("load1", float("nan")) for r in rs)
            rss = max(r.get("peak_rss_mib", 0) for r in rs)
            print("%s | %s | %8d | %8d | %s | %.2f | %.1f"
                  % (name, rt, round(ips[rt]), round(best[rt]), runs, load, rss))
        for hq in ("hq-int", "hq-qdq"):
            if hq not in ips:
                continue
            for label, v in (("medians", ips), ("bests", best)):
                parts = []
                for peer in ("ort-qdq", "pytorch-int8"):
                    if peer in v:
                        parts.append("%s/%s = %.2fx" % (hq, peer, v[hq] / v[peer]))
                peers = [p for p in ("ort-qdq", "pytorch-int8") if p in v]
                if len(peers) == 2:
                    fast = max(peers, key=lambda p: v[p])
                    parts.append("%s/faster (%s) = %.2fx" % (hq, fast, v[hq] / v[fast]))
                print("%s (%s): %s" % (name, label, ", ".join(parts)))


def op_counts(path):
    try:
        import onnx
        g = onnx.load(path).graph
    except Exception as e:  # noqa: BLE001 -- a summary line, not a failure
        return "(could not read %s: %s)" % (path, e)
    c = collections.Counter(n.op_type for n in g.node)
    return ", ".join("%s %d" % kv for kv in sorted(c.items(), key=lambda kv: -kv[1]))


def accuracy_table(rows, labels_path):
    acc = [r for r in rows if r["runtime"].startswith("acc ")]
    if not acc:
        return
    labels = np.load(labels_path) if labels_path and os.path.exists(labels_path) else None
    print()
    print("model | run | top-1 % | minus hq-eval qdq (points) | top-1 agrees with hq-eval qdq")
    for name in dict.fromkeys(r["name"] for r in acc):
        mine = [r for r in acc if r["name"] == name]
        ref = next((r for r in mine if r["runtime"] == "acc hq-eval qdq"), None)
        ref_pred = None
        if ref and os.path.exists(ref.get("logits", "")):
            ref_pred = np.load(ref["logits"]).argmax(1)
        for r in mine:
            pred = None
            if os.path.exists(r.get("logits", "")):
                pred = np.load(r["logits"]).argmax(1)
            top1 = r.get("top1")
            if top1 is None and pred is not None and labels is not None:
                top1 = 100.0 * float((pred == labels).mean())
            delta = "%+.2f" % (top1 - ref["top1"]) if ref and top1 is not None else "-"
            agree = "-"
            if pred is not None and ref_pred is not None and pred.shape == ref_pred.shape:
                agree = "%.2f %%" % (100.0 * float((pred == ref_pred).mean()))
            print("%s | %s | %.2f | %s | %s" % (name, r["runtime"][4:], top1, delta, agree))
        for r in mine:
            if r.get("optimized") and os.path.exists(r["optimized"]):
                print("%s: ops ONNX Runtime ran on the QDQ model: %s" % (name, op_counts(r["optimized"])))


def main():
    if len(sys.argv) < 2:
        raise SystemExit("usage: int_summary.py RESULTS.jsonl [LABELS.npy]")
    with open(sys.argv[1]) as f:
        rows = [json.loads(l) for l in f if l.strip()]
    speed_table(rows)
    accuracy_table(rows, sys.argv[2] if len(sys.argv) > 2 else None)


if __name__ == "__main__":
    main()
