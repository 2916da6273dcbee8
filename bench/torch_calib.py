"""PyTorch FX post-training calibration throughput (and PTQ accuracy) on an ONNX model.

The peer of hq-calib in bench/run_calibration.sh. The ONNX graph becomes a real
torch.nn.Module (nn.Conv2d / nn.Linear holding the ONNX initializers, nn.ReLU / nn.ReLU6 /
nn.MaxPool2d / nn.AdaptiveAvgPool2d modules, `+` for Add, torch.flatten) whose forward
walks the ONNX nodes, so FX symbolic tracing sees modules and prepare_fx inserts observers
(and fuses Conv+ReLU) as it does for a hand-written model; its logits are checked against
the model's test_data_set_0 reference outputs when present (max abs difference <= 1e-4).

Protocol (as ../shared/models/README.md describes PyTorch's calibration numbers):
`prepare_fx` with get_default_qconfig_mapping("fbgemm") (HistogramObserver activations,
per-channel weights), quantized engine "onednn" (Debian's torch has no fbgemm), THREADS
threads, calibration on the 2,048 images of hq's fashion-mnist-calib(-32) spec (the first
2,048 of a seed-0 SplitMix64/Fisher-Yates permutation of the 60,000 training images,
lib/data/random.h), batch BATCH. Timed: prepare_fx + the calibration forward passes
(not convert_fx). Peak RSS is read right after calibration, before the test set is loaded.
With --eval: convert_fx, then int8 top-1 on the 10,000 test images (and float top-1).
Prints one JSON line. Run with Debian's /usr/bin/python3:
    python3 bench/torch_calib.py MODEL [--batch 256] [--threads 2] [--images 2048] [--eval]
"""
import argparse
import gzip
import json
import os
import resource
import sys
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper

FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
MASK64 = (1 << 64) - 1


# --- hq's dataset specs, reproduced -------------------------------------------------------

class SplitMix64:
    """lib/data/random.h: the generator behind hq's dataset subsets and shuffles."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform_below(self, n):
        threshold = ((1 << 64) - n) % n
        while True:
            r = self.next()
            if r >= threshold:
                return r % n


def permutation(n, seed):
    p = list(range(n))
    rng = SplitMix64(seed)
    for i in range(n - 1, 0, -1):
        j = rng.uniform_below(i + 1)
        p[i], p[j] = p[j], p[i]
    return p


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def preprocess(images_u8, size32):
    """(x - 128) / 128; for 3x32x32 models pad 2 zero pixels per side, then 3 channels."""
    x = images_u8.astype(np.float32)
    if size32:
        x = np.pad(x, ((0, 0), (2, 2), (2, 2)), constant_values=0.0)
    x = (x - 128.0) * 0.0078125
    x = x[:, None, :, :]
    if size32:
        x = np.repeat(x, 3, axis=1)
    return np.ascontiguousarray(x)


def calibration_images(size32, count):
    """hq's fashion-mnist-calib(-32): the first `count` of permutation(60000, seed 0)."""
    images = read_idx(os.path.join(FMNIST_DIR, "train-images-idx3-ubyte.gz"))
    idx = permutation(images.shape[0], 0)[:count]
    return preprocess(images[idx], size32)


def test_set(size32):
    images = read_idx(os.path.join(FMNIST_DIR, "t10k-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(FMNIST_DIR, "t10k-labels-idx1-ubyte.gz"))
    return preprocess(images, size32), labels.astype(np.int64)


# --- the ONNX graph as an nn.Module --------------------------------------------------------

def attrs_of(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def symmetric_pads(a, where):
    p = list(a.get("pads", [0, 0, 0, 0]))
    if p[0] != p[2] or p[1] != p[3]:
        raise ValueError("%s: asymmetric pads %s not supported" % (where, p))
    return (p[0], p[1])


class OnnxModule(torch.nn.Module):
    """Conv, Relu, Clip, Add, MaxPool, AveragePool, GlobalAveragePool, Flatten, Gemm,
    Identity/Dropout, Constant: each weighted or activation node is a submodule."""

    def __init__(self, model):
        super().__init__()
        g = model.graph
        consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        for n in g.node:
            if n.op_type == "Constant":
                consts[n.output[0]] = numpy_helper.to_array(attrs_of(n)["value"])
        self.layers = torch.nn.ModuleDict()
        self.steps = []  # (kind, key or None, input names, output name, extra)
        self.input_name = g.input[0].name
        self.output_name = g.output[0].name
        for i, n in enumerate(g.node):
            op, a, where = n.op_type, attrs_of(n), "%s %s" % (n.op_type, n.name)
            key = "n%d_%s" % (i, op.lower())
            ins = list(n.input)
            if op == "Constant":
                continue
            if op == "Conv":
                w = torch.from_numpy(consts[ins[1]].copy())
                has_bias = len(ins) > 2 and ins[2]
                m = torch.nn.Conv2d(w.shape[1] * a.get("group", 1), w.shape[0],
                                    tuple(w.shape[2:]), stride=tuple(a.get("strides", [1, 1])),
                                    padding=symmetric_pads(a, where),
                                    dilation=tuple(a.get("dilations", [1, 1])),
                                    groups=a.get("group", 1), bias=bool(has_bias))
                m.weight.data.copy_(w)
                if has_bias:
                    m.bias.data.copy_(torch.from_numpy(consts[ins[2]].copy()))
                ins = ins[:1]
            elif op == "Gemm":
                if a.get("transA", 0):
                    raise ValueError("%s: transA not supported" % where)
                w = consts[ins[1]] * a.get("alpha", 1.0)
                w = w if a.get("transB", 0) else w.T
                has_bias = len(ins) > 2 and ins[2]
                m = torch.nn.Linear(w.shape[1], w.shape[0], bias=bool(has_bias))
                m.weight.data.copy_(torch.from_numpy(np.ascontiguousarray(w)))
                if has_bias:
                    m.bias.data.copy_(torch.from_numpy(consts[ins[2]] * a.get("beta", 1.0)))
                ins = ins[:1]
            elif op == "Relu":
                m = torch.nn.ReLU()
            elif op == "Clip":
                lo = float(consts[ins[1]]) if len(ins) > 1 and ins[1] else a.get("min")
                hi = float(consts[ins[2]]) if len(ins) > 2 and ins[2] else a.get("max")
                if lo == 0.0 and hi == 6.0:
                    m = torch.nn.ReLU6()
                elif lo is not None and hi is not None:
                    m = torch.nn.Hardtanh(lo, hi)
                else:
                    raise ValueError("%s: one-sided Clip not supported" % where)
                ins = ins[:1]
            elif op == "MaxPool":
                m = torch.nn.MaxPool2d(tuple(a["kernel_shape"]), tuple(a.get("strides", [1, 1])),
                                       symmetric_pads(a, where),
                                       ceil_mode=bool(a.get("ceil_mode", 0)))
            elif op == "AveragePool":
                m = torch.nn.AvgPool2d(tuple(a["kernel_shape"]), tuple(a.get("strides", [1, 1])),
                                       symmetric_pads(a, where),
                                       ceil_mode=bool(a.get("ceil_mode", 0)),
                                       count_include_pad=bool(a.get("count_include_pad", 0)))
            elif op == "GlobalAveragePool":
                m = torch.nn.AdaptiveAvgPool2d(1)
            elif op in ("Identity", "Dropout"):
                m = torch.nn.Identity()
                ins = ins[:1]
            elif op in ("Add", "Flatten"):
                m = None
            else:
                raise ValueError("%s: op not supported by this bench" % where)
            if m is not None:
                self.layers[key] = m
            extra = a.get("axis", 1) if op == "Flatten" else None
            self.steps.append((op, key if m is not None else None, ins, n.output[0], extra))

    def forward(self, x):
        env = {self.input_name: x}
        for op, key, ins, out, extra in self.steps:
            if op == "Add":
                y = env[ins[0]] + env[ins[1]]
            elif op == "Flatten":
                y = torch.flatten(env[ins[0]], extra)
            else:
                y = self.layers[key](env[ins[0]])
            env[out] = y
        return env[self.output_name]


def check_reference(net, model_path):
    """Max |logits - ONNX reference| on test_data_set_0, or None when it is absent."""
    ref_dir = model_path[:-len(".onnx")] + ".test_data_set_0"
    if not os.path.isdir(ref_dir):
        return None
    t_in, t_out = onnx.TensorProto(), onnx.TensorProto()
    with open(os.path.join(ref_dir, "input_0.pb"), "rb") as f:
        t_in.ParseFromString(f.read())
    with open(os.path.join(ref_dir, "output_0.pb"), "rb") as f:
        t_out.ParseFromString(f.read())
    with torch.no_grad():
        got = net(torch.from_numpy(numpy_helper.to_array(t_in).copy())).numpy()
    diff = float(np.abs(got - numpy_helper.to_array(t_out)).max())
    if diff > 1e-4:
        raise SystemExit("%s: logits differ from %s by %g (> 1e-4)" % (model_path, ref_dir, diff))
    return diff


def top1(net, images, labels, batch):
    correct = 0
    with torch.no_grad():
        for s in range(0, images.shape[0], batch):
            logits = net(torch.from_numpy(images[s:s + batch]))
            correct += int((logits.argmax(1).numpy() == labels[s:s + batch]).sum())
    return 100.0 * correct / images.shape[0]


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--eval", action="store_true", help="convert_fx and report test top-1")
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
    build_s = time.perf_counter() - t_start
    calib = calibration_images(size32, args.images)

    # Timed: prepare_fx + calibration forward passes.
    t0 = time.perf_counter()
    qmap = get_default_qconfig_mapping("fbgemm")
    prepared = prepare_fx(net, qmap, (torch.from_numpy(calib[:1]),))
    t1 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, calib.shape[0], args.batch):
            prepared(torch.from_numpy(calib[s:s + args.batch]))
    t2 = time.perf_counter()
    rss = peak_rss_mib()

    out = {"runtime": "pytorch-fx", "model": args.model, "batch": args.batch,
           "threads": args.threads, "images": int(calib.shape[0]),
           "build_s": round(build_s, 3), "prepare_s": round(t1 - t0, 3),
           "calib_s": round(t2 - t1, 3), "seconds": round(t2 - t0, 3),
           "img_per_s": round(calib.shape[0] / (t2 - t0), 1),
           "calib_only_img_per_s": round(calib.shape[0] / (t2 - t1), 1),
           "peak_rss_mib": round(rss, 1),
           "reference_max_abs_diff": ref_diff}
    if args.eval:
        t3 = time.perf_counter()
        quantized = convert_fx(prepared)
        out["convert_s"] = round(time.perf_counter() - t3, 3)
        images, labels = test_set(size32)
        out["float_top1"] = round(top1(net, images, labels, args.batch), 2)
        out["int8_top1"] = round(top1(quantized, images, labels, args.batch), 2)
        out["peak_rss_with_eval_mib"] = round(peak_rss_mib(), 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
