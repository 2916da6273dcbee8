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


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    models = []
    for r in rows:
        if r["name"] not in models:
            models.append(r["name"])
    header = ["model", "runtime", "calib img/s", "run img/s", "calib x PyTorch",
              "run x PyTorch", "peak RSS MiB", "top-1 %", "runs (calib img/s)"]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for name in models:
        mine = [r for r in rows if r["name"] == name]
        evals = {r["runtime"][len("hq-eval "):]: r for r in mine if r["runtime"].startswith("hq-eval")}
        torch_runs = [r for r in mine if r["runtime"] == "pytorch-fx"]
        torch_ips = statistics.median(r["img_per_s"] for r in torch_runs) if torch_runs else None
        lines = []
        if torch_runs:
            top1 = next((r["int8_top1"] for r in torch_runs if "int8_top1" in r), None)
            lines.append([name, "PyTorch FX", torch_ips, None, None, None,
                          max(r["peak_rss_mib"] for r in torch_runs), top1,
                          [r["img_per_s"] for r in torch_runs]])
        runtimes = []
        for r in mine:
            if r["runtime"].startswith("hq-calib ") and r["runtime"] not in runtimes:
                runtimes.append(r["runtime"])
        for rt in runtimes:
            runs = [r for r in mine if r["runtime"] == rt]
            calib = statistics.median(r["images_per_s"] for r in runs)
            whole = statistics.median(r["images"] / r["wall_s"] for r in runs)
            obs = rt[len("hq-calib "):]
            chosen = runs[-1].get("chosen_observer")
            label = rt + (" (chose %s)" % chosen if chosen else "")
            top1 = evals[obs]["top1"] if obs in evals else None
            lines.append([name, label, calib, whole,
                          calib / torch_ips if torch_ips else None,
                          whole / torch_ips if torch_ips else None,
                          max(r["peak_rss_mib"] for r in runs), top1,
                          [r["images_per_s"] for r in runs]])
        if "float" in evals:
            lines.append([name, "float (hq-eval)", None, None, None, None, None,
                          evals["float"]["top1"], []])
        for l in lines:
            cells = [l[0], l[1],
                     "%.0f" % l[2] if l[2] is not None else "",
                     "%.0f" % l[3] if l[3] is not None else "",
                     "%.2fx" % l[4] if l[4] is not None else "",
                     "%.2fx" % l[5] if l[5] is not None else "",
                     "%.1f" % l[6] if l[6] is not None else "",
                     "%.2f" % l[7] if l[7] is not None else "",
                     ", ".join("%.0f" % x for x in l[8])]
            print(" | ".join(cells))
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
