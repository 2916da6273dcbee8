"""Table of bench/run_calibration.sh results (one JSON object per line; stdlib only).

Per model: median img/s over rounds for PyTorch FX (prepare_fx + calibration) and for each
hq-calib observer (its own calibration img/s and the whole process's img/s), the ratios
hq/PyTorch, the largest peak RSS, and the test top-1 of each (PyTorch: convert_fx int8 on
onednn; hq: hq-eval on the QDQ model; float for reference).
    python3 bench/calib_summary.py RESULTS.jsonl
"""
import json
import statistics
import sys


def fmt(x, f):
    return f % x if x is not None else ""


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    models = []
    for r in rows:
        if r["name"] not in models:
            models.append(r["name"])
    header = ["model", "runtime", "calib img/s median", "best", "run img/s median", "best",
              "calib x PyTorch (median / best / per round)", "run x PyTorch (median / best)",
              "peak RSS MiB", "top-1 %", "runs (calib img/s)"]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for name in models:
        mine = [r for r in rows if r["name"] == name]
        evals = {r["runtime"][len("hq-eval "):]: r for r in mine if r["runtime"].startswith("hq-eval")}
        torch_runs = [r for r in mine if r["runtime"] == "pytorch-fx"]
        t_med = statistics.median(r["img_per_s"] for r in torch_runs) if torch_runs else None
        t_best = max(r["img_per_s"] for r in torch_runs) if torch_runs else None
        t_round = {r.get("round"): r["img_per_s"] for r in torch_runs}
        if torch_runs:
            top1 = next((r["int8_top1"] for r in torch_runs if "int8_top1" in r), None)
            print(" | ".join([name, "PyTorch FX prepare_fx + calibration", fmt(t_med, "%.0f"),
                              fmt(t_best, "%.0f"), "", "", "", "",
                              fmt(max(r["peak_rss_mib"] for r in torch_runs), "%.1f"),
                              fmt(top1, "%.2f"),
                              ", ".join("%.0f" % r["img_per_s"] for r in torch_runs)]))
        runtimes = []
        for r in mine:
            if r["runtime"].startswith("hq-calib ") and r["runtime"] not in runtimes:
                runtimes.append(r["runtime"])
        for rt in runtimes:
            runs = [r for r in mine if r["runtime"] == rt]
            calib = [r["images_per_s"] for r in runs]
            whole = [r["images"] / r["wall_s"] for r in runs]
            c_med, c_best = statistics.median(calib), max(calib)
            w_med, w_best = statistics.median(whole), max(whole)
            paired = [r["images_per_s"] / t_round[r.get("round")] for r in runs
                      if r.get("round") in t_round]
            obs = rt[len("hq-calib "):]
            chosen = runs[-1].get("chosen_observer")
            ratio_c = ratio_w = ""
            if t_med:
                ratio_c = "%.2fx / %.2fx / %s" % (
                    c_med / t_med, c_best / t_best,
                    "%.2fx" % statistics.median(paired) if paired else "-")
                ratio_w = "%.2fx / %.2fx" % (w_med / t_med, w_best / t_best)
            print(" | ".join([name, rt + (" (chose %s)" % chosen if chosen else ""),
                              "%.0f" % c_med, "%.0f" % c_best, "%.0f" % w_med, "%.0f" % w_best,
                              ratio_c, ratio_w, "%.1f" % max(r["peak_rss_mib"] for r in runs),
                              fmt(evals[obs]["top1"] if obs in evals else None, "%.2f"),
                              ", ".join("%.0f" % x for x in calib)]))
        if "float" in evals:
            print(" | ".join([name, "float model (hq-eval)"] + [""] * 7 +
                             ["%.2f" % evals["float"]["top1"], ""]))
    for r in rows:
        if r["runtime"] != "hq-calib-profile":
            continue
        loop = r["forward_keep_s"] + r["observe_scan_s"] + r["observe_histogram_s"]
        print("\n%s calibration loop (hq-calib-profile, %d images, %d values observed per image):"
              % (r["name"], r["images"], r["observed_values_per_image"]))
        print("  float forward alone   %6.3f s (%.0f img/s)" % (r["forward_s"], r["forward_img_per_s"]))
        print("  forward keeping points %6.3f s (%.0f%% of the loop)"
              % (r["forward_keep_s"], 100 * r["forward_keep_s"] / loop))
        print("  observer scan         %6.3f s (%.0f%%, %.2f ns/value)"
              % (r["observe_scan_s"], 100 * r["observe_scan_s"] / loop, r["scan_ns_per_value"]))
        print("  observer histogram    %6.3f s (%.0f%%, %.2f ns/value)"
              % (r["observe_histogram_s"], 100 * r["observe_histogram_s"] / loop,
                 r["histogram_ns_per_value"]))
        print("  loading data %.3f s, import + plan %.3f s" % (r["load_data_s"], r["import_plan_s"]))
        for k, v in sorted(r.get("kernels", {}).items()):
            print("  kernel %-16s keep %6.3f s, plain %6.3f s"
                  % (k, v.get("keep_s", 0), v.get("plain_s", 0)))


if __name__ == "__main__":
    main()
