"""PyTorch int8 inference throughput (and top-1) of an ONNX model's architecture.

The int8 peer of hq's integer model in bench/run_int_inference.sh. The ONNX graph becomes
bench/torch_calib.py's OnnxModule (nn.Conv2d / nn.Linear / activation modules holding the
ONNX weights, logits checked against test_data_set_0); then, as ../shared/models/README.md
describes PyTorch's PTQ numbers: FX `prepare_fx` with get_default_qconfig_mapping("fbgemm"),
calibration on the 2,048 images of hq's fashion-mnist-calib(-32) (batch BATCH), `convert_fx`,
run on the quantized engine "onednn" (Debian's torch has no fbgemm) with THREADS threads.
Throughput: random uniform [-1, 1) input (seed 0) of batch BATCH, same protocol as hq-bench
(3 warm-up batches, then batches until SECONDS have passed, at least 10; median batch time).
Run it with glibc malloc keeping big buffers (MALLOC_MMAP_THRESHOLD_=33554432
MALLOC_TRIM_THRESHOLD_=1073741824), PyTorch's faster setting; run_int_inference.sh does.
With --eval: int8 top-1 on the 10,000 Fashion-MNIST test images (and --dump-logits FILE.npy
writes the int8 model's logits). Prints one JSON line. Run with Debian's /usr/bin/python3:
    python3 bench/torch_int8_bench.py MODEL [--batch 256] [--threads 2] [--seconds 5]
                                      [--eval] [--dump-logits FILE.npy] [--no-speed]
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_calib import (OnnxModule, calibration_images, check_reference,  # noqa: E402
                         test_set)


def logits_of(net, images, batch):
    outs = []
    with torch.no_grad():
        for s in range(0, images.shape[0], batch):
            outs.append(net(torch.from_numpy(images[s:s + batch])).numpy())
    return np.concatenate(outs).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--images", type=int, default=2048, help="calibration images")
    ap.add_argument("--eval", action="store_true", help="int8 top-1 on the test set")
    ap.add_argument("--dump-logits", help="with --eval: write the int8 logits to this .npy")
    ap.add_argument("--no-speed", action="store_true", help="skip the throughput measurement")
    args = ap.parse_args()

    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.set_num_threads(args.threads)
    torch.backends.quantized.engine = "onednn"
    t_start = time.perf_counter()
    model = onnx.load(args.model)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    size32 = tuple(dims[1:]) == (3, 32, 32)
    if tuple(dims[1:]) not in ((1, 28, 28), (3, 32, 32)):
        raise SystemExit("%s: input %s is neither 1x28x28 nor 3x32x32" % (args.model, dims))
    net = OnnxModule(model).eval()
    ref_diff = check_reference(net, args.model)
    calib = calibration_images(size32, args.images)
    prepared = prepare_fx(net, get_default_qconfig_mapping("fbgemm"),
                          (torch.from_numpy(calib[:1]),))
    with torch.no_grad():
        for s in range(0, calib.shape[0], args.batch):
            prepared(torch.from_numpy(calib[s:s + args.batch]))
    quantized = convert_fx(prepared).eval()
    prepare_s = time.perf_counter() - t_start

    out = {"runtime": "pytorch-int8", "model": args.model, "batch": args.batch,
           "threads": args.threads, "engine": torch.backends.quantized.engine,
           "prepare_s": round(prepare_s, 3), "reference_max_abs_diff": ref_diff}
    if not args.no_speed:
        shape = [args.batch] + list(dims[1:])
        x = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32))
        times = []
        with torch.no_grad():
            for _ in range(3):
                quantized(x)
            start = time.perf_counter()
            while len(times) < 10 or time.perf_counter() - start < args.seconds:
                a = time.perf_counter()
                quantized(x)
                times.append(time.perf_counter() - a)
        times.sort()
        median = times[len(times) // 2]
        out.update({"iters": len(times), "median_batch_ms": round(1e3 * median, 3),
                    "img_per_s": round(args.batch / median, 1)})
    if args.eval:
        images, labels = test_set(size32)
        logits = logits_of(quantized, images, args.batch)
        out["int8_top1"] = round(100.0 * float((logits.argmax(1) == labels).mean()), 2)
        out["test_images"] = int(labels.shape[0])
        if args.dump_logits:
            np.save(args.dump_logits, logits)
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
