"""Table of bench/run_training.sh results (one JSON object per line; stdlib only).

Per model and mode (qat, qat-bn, float): median img/s over rounds of hq (hq-qat's epoch
images_per_second, or hq-bench --train) and of PyTorch (its epoch img/s over the same images,
warm-up included, and its steady-state img/s), the ratio hq / PyTorch of the epoch medians
(issue 5's goals: QAT (both) >= 2.0x, float >= 1.5x), hq's epoch median over PyTorch's steady
median, the median of the per-round ratios, and the largest peak RSS of each whole process
(goal: hq below PyTorch). With --json PATH also writes that summary as one JSON object.
    python3 bench/train_summary.py RESULTS.jsonl [--json bench/out/training.json]
"""
import argparse
import json
import statistics

GOALS = {"qat": 2.0, "qat-bn": 2.0, "float": 1.5}
TORCH = {"qat": "pytorch-fx-qat", "qat-bn": "pytorch-fx-qat-convbn", "float": "pytorch-eager"}


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, f):
    return f % x if x is not None else "-"


def epoch_ips(r):
    """The img/s that counts all images of the run (warm-up included) on either side."""
    return r.get("epoch_img_per_s", r["img_per_s"])


def summarize(rows):
    out = []
    keys = []
    for r in rows:
        if (r["name"], r["mode"]) not in keys:
            keys.append((r["name"], r["mode"]))
    for name, mode in keys:
        all_mine = [r for r in rows if r["name"] == name and r["mode"] == mode]
        mine = [r for r in all_mine if "error" not in r]
        errors = ["%s round %s: %s" % (r["runtime"], r.get("round"), r["error"])
                  for r in all_mine if "error" in r]
        torch_runs = [r for r in mine if r["runtime"] == TORCH[mode]]
        hq_runs = [r for r in mine if r["runtime"].startswith("hq-")]
        extra = [r for r in mine if r not in torch_runs and r not in hq_runs]
        t_epoch = med([epoch_ips(r) for r in torch_runs])
        t_steady = med([r["img_per_s"] for r in torch_runs])
        h_epoch = med([epoch_ips(r) for r in hq_runs])
        t_round = {r.get("round"): epoch_ips(r) for r in torch_runs}
        paired = [epoch_ips(r) / t_round[r.get("round")] for r in hq_runs
                  if r.get("round") in t_round]
        h_rss = max((r["peak_rss_mib"] for r in hq_runs), default=None)
        t_rss = max((r["peak_rss_mib"] for r in torch_runs), default=None)
        ratio = h_epoch / t_epoch if h_epoch and t_epoch else None
        entry = {
            "model": name, "mode": mode, "goal": GOALS[mode],
            "hq_tool": next((r["runtime"] for r in all_mine if r["runtime"].startswith("hq-")),
                            None),
            "hq_img_per_s": h_epoch, "hq_runs": [epoch_ips(r) for r in hq_runs],
            "pytorch": TORCH[mode],
            "pytorch_img_per_s": t_epoch, "pytorch_steady_img_per_s": t_steady,
            "pytorch_runs": [epoch_ips(r) for r in torch_runs],
            "ratio": round(ratio, 3) if ratio else None,
            "ratio_vs_steady": round(h_epoch / t_steady, 3) if h_epoch and t_steady else None,
            "ratio_per_round_median": round(med(paired), 3) if paired else None,
            "meets_speed_goal": ratio >= GOALS[mode] if ratio else None,
            "hq_peak_rss_mib": h_rss, "pytorch_peak_rss_mib": t_rss,
            "meets_rss_goal": h_rss < t_rss if h_rss and t_rss else None,
            "load1_median": med([r["load1"] for r in mine if "load1" in r]),
        }
        if errors:
            entry["errors"] = errors
        if hq_runs and "epochs" in hq_runs[-1]:
            entry["hq_train_loss"] = hq_runs[-1]["epochs"][-1].get("train_loss")
        if torch_runs:
            entry["pytorch_loss_first_last"] = [torch_runs[-1]["first_loss"],
                                                torch_runs[-1]["last_loss"]]
        for r in extra:
            entry.setdefault("reference_runs", {}).setdefault(r["runtime"], []).append(
                {"img_per_s": epoch_ips(r), "steady_img_per_s": r["img_per_s"],
                 "peak_rss_mib": r["peak_rss_mib"]})
        out.append(entry)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--json", help="write the summary here")
    args = ap.parse_args()
    rows = [json.loads(l) for l in open(args.results) if l.strip()]
    summary = summarize(rows)
    header = ["model", "mode", "hq img/s", "PyTorch img/s (epoch / steady)", "hq x PyTorch",
              "x steady", "per round", "goal", "peak RSS MiB hq / PyTorch", "load1",
              "runs hq | PyTorch"]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for e in summary:
        met = {True: " met", False: " NOT met", None: ""}[e["meets_speed_goal"]]
        rss_met = {True: " (hq lower)", False: " (hq NOT lower)", None: ""}[e["meets_rss_goal"]]
        print(" | ".join([
            e["model"], "%s (%s vs %s)" % (e["mode"], e["hq_tool"] or "no hq", e["pytorch"]),
            fmt(e["hq_img_per_s"], "%.0f"),
            "%s / %s" % (fmt(e["pytorch_img_per_s"], "%.0f"),
                         fmt(e["pytorch_steady_img_per_s"], "%.0f")),
            fmt(e["ratio"], "%.2fx"), fmt(e["ratio_vs_steady"], "%.2fx"),
            fmt(e["ratio_per_round_median"], "%.2fx"), ">= %.1fx%s" % (e["goal"], met),
            "%s / %s%s" % (fmt(e["hq_peak_rss_mib"], "%.0f"),
                           fmt(e["pytorch_peak_rss_mib"], "%.0f"), rss_met),
            fmt(e["load1_median"], "%.2f"),
            "%s | %s" % (", ".join("%.0f" % x for x in e["hq_runs"]) or "-",
                         ", ".join("%.0f" % x for x in e["pytorch_runs"]) or "-")]))
        for err in e.get("errors", []):
            print("   %s %s FAILED: %s" % (e["model"], e["mode"], err))
        for rt, runs in e.get("reference_runs", {}).items():
            print("   %s %s (reference): %s img/s epoch, %s steady, peak RSS %s MiB" % (
                e["model"], rt, ", ".join("%.0f" % r["img_per_s"] for r in runs),
                ", ".join("%.0f" % r["steady_img_per_s"] for r in runs),
                ", ".join("%.0f" % r["peak_rss_mib"] for r in runs)))
    if args.json:
        first = rows[0] if rows else {}
        torch_row = next((r for r in rows if r["runtime"].startswith("pytorch")), {})
        with open(args.json, "w") as f:
            json.dump({"results_file": args.results,
                       "batch": torch_row.get("batch", first.get("batch")),
                       "threads": torch_row.get("threads", first.get("threads")),
                       "warmup": torch_row.get("warmup"), "batches": torch_row.get("batches"),
                       "summary": summary}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
