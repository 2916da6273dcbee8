"""PyTorch training throughput on an ONNX model: FX QAT or eager float training.

The peer of hq-qat in bench/run_training.sh. The ONNX graph becomes a torch.nn.Module of
real modules (nn.Conv2d / nn.Linear / nn.BatchNorm2d holding the ONNX initializers and
running statistics, nn.ReLU / nn.ReLU6 / nn.MaxPool2d / nn.AdaptiveAvgPool2d /
nn.Dropout(ratio), `+` for Add, torch.flatten) whose forward walks the ONNX nodes, so FX
tracing sees modules as it does for a hand-written model. In eval mode its logits are checked
against the model's test_data_set_0 when present (max abs difference <= 1e-4; the
*.float-bn.onnx exports have none; their BN modules were checked once against
torch_bench.py's functional replay of the same graph: identical logits).

Modes (as ../shared/models/README.md describes PyTorch's numbers):
  --mode qat    prepare_qat_fx(get_default_qat_qconfig_mapping("fbgemm")) on the module in
                train mode (moving-average min/max observers, per-channel symmetric int8
                weights, fake quant everywhere; Conv+ReLU fused into ConvReLU2d QAT modules,
                and Conv+BN(+ReLU) into ConvBn(ReLU)2d when the model keeps BN), Adam lr 1e-4.
                Give it the eval-mode *.float.onnx (BN folded: the graph hq-calib quantizes).
  --mode float  eager train mode (BN batch statistics, Dropout), Adam lr 1e-3, weight decay
                1e-4 (PyTorch-style L2). Give it the training-mode *.float-bn.onnx.
Softmax cross-entropy on Fashion-MNIST training images and labels: the first
(WARMUP + BATCHES) * BATCH images of the training file, preprocessed as hq's
fashion-mnist-train(-32) specs ((x - 128) / 128; 3x32x32 models: pad 2, 3 channels), or with
--random uniform [-1, 1) inputs and random labels (seed 0). Each step: zero_grad, forward,
loss, backward, optimizer step. WARMUP steps, then BATCHES timed steps.
Prints one JSON line: img_per_s (BATCH / median timed step), mean_img_per_s (timed images /
timed seconds), epoch_img_per_s (all images / all steps' seconds, warm-up included: what an
epoch-level images/s over the same images counts), prepare_s, loss of the first and last step,
peak_rss_mib (getrusage, whole process).
With --epochs E (not used by the bench): PyTorch's reference accuracy instead, E shuffled
epochs over the training set (--limit N: its first N images), then test top-1 (qat: the
fake-quant model and convert_fx's int8 model on onednn). Run with Debian's /usr/bin/python3:
    python3 bench/torch_train_bench.py MODEL --mode qat|float [--batch 128] [--threads 2]
            [--warmup 3] [--batches 20] [--lr LR] [--weight-decay WD] [--random]
            [--epochs E [--limit N]]
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_calib import FMNIST_DIR, attrs_of, preprocess, read_idx, symmetric_pads  # noqa: E402


class OnnxTrainModule(torch.nn.Module):
    """Conv, BatchNormalization, Relu, Clip, Add, MaxPool, AveragePool, GlobalAveragePool,
    Flatten, Gemm, Dropout, Identity, Constant: each weighted or activation node a submodule,
    parameters and BN running statistics loaded from the ONNX initializers."""

    def __init__(self, model):
        super().__init__()
        g = model.graph
        consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        for n in g.node:
            if n.op_type == "Constant":
                consts[n.output[0]] = numpy_helper.to_array(attrs_of(n)["value"])
        self.layers = torch.nn.ModuleDict()
        self.steps = []  # (op, key or None, input names, output name, extra)
        self.input_name = g.input[0].name
        self.output_name = g.output[0].name

        def tensor(name):
            return torch.from_numpy(np.ascontiguousarray(consts[name]).copy())

        for i, n in enumerate(g.node):
            op, a, where = n.op_type, attrs_of(n), "%s %s" % (n.op_type, n.name)
            key = "n%d_%s" % (i, op.lower())
            ins = list(n.input)
            if op == "Constant":
                continue
            if op == "Conv":
                w = tensor(ins[1])
                has_bias = len(ins) > 2 and bool(ins[2])
                m = torch.nn.Conv2d(w.shape[1] * a.get("group", 1), w.shape[0],
                                    tuple(w.shape[2:]), stride=tuple(a.get("strides", [1, 1])),
                                    padding=symmetric_pads(a, where),
                                    dilation=tuple(a.get("dilations", [1, 1])),
                                    groups=a.get("group", 1), bias=has_bias)
                m.weight.data.copy_(w)
                if has_bias:
                    m.bias.data.copy_(tensor(ins[2]))
                ins = ins[:1]
            elif op == "BatchNormalization":
                scale = tensor(ins[1])
                # ONNX: running = momentum * running + (1 - momentum) * batch; torch the reverse.
                m = torch.nn.BatchNorm2d(scale.shape[0], eps=a.get("epsilon", 1e-5),
                                         momentum=1.0 - a.get("momentum", 0.9))
                m.weight.data.copy_(scale)
                m.bias.data.copy_(tensor(ins[2]))
                m.running_mean.copy_(tensor(ins[3]))
                m.running_var.copy_(tensor(ins[4]))
                ins = ins[:1]
            elif op == "Gemm":
                if a.get("transA", 0):
                    raise ValueError("%s: transA not supported" % where)
                w = consts[ins[1]] * a.get("alpha", 1.0)
                w = w if a.get("transB", 0) else w.T
                has_bias = len(ins) > 2 and bool(ins[2])
                m = torch.nn.Linear(w.shape[1], w.shape[0], bias=has_bias)
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
            elif op == "Dropout":
                ratio = float(consts[ins[1]]) if len(ins) > 1 and ins[1] else a.get("ratio", 0.5)
                m = torch.nn.Dropout(ratio)
                ins = ins[:1]
            elif op == "Identity":
                m = torch.nn.Identity()
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


def reference_dir(model_path):
    """MODEL.test_data_set_0 when present. (The *.float-bn.onnx exports have none: their BN
    running statistics moved during the training-mode export, so the *.float.onnx sibling's
    reference logits do not apply to them.)"""
    cand = model_path[:-len(".onnx")] + ".test_data_set_0"
    return cand if os.path.isdir(cand) else None


def check_reference(net, model_path):
    """Max |eval-mode logits - ONNX reference|, or None without a reference."""
    ref = reference_dir(model_path)
    if ref is None:
        return None
    t_in, t_out = onnx.TensorProto(), onnx.TensorProto()
    with open(os.path.join(ref, "input_0.pb"), "rb") as f:
        t_in.ParseFromString(f.read())
    with open(os.path.join(ref, "output_0.pb"), "rb") as f:
        t_out.ParseFromString(f.read())
    net.eval()
    with torch.no_grad():
        got = net(torch.from_numpy(numpy_helper.to_array(t_in).copy())).numpy()
    diff = float(np.abs(got - numpy_helper.to_array(t_out)).max())
    if diff > 1e-4:
        raise SystemExit("%s: eval logits differ from %s by %g (> 1e-4)" % (model_path, ref, diff))
    return diff


def training_batches(dims, count, random_data):
    """(images float32 [count, C, H, W], labels int64 [count])."""
    if random_data:
        rng = np.random.default_rng(args.seed)
        x = rng.uniform(-1, 1, [count] + dims[1:]).astype(np.float32)
        return x, rng.integers(0, 10, count).astype(np.int64)
    size32 = tuple(dims[1:]) == (3, 32, 32)
    if tuple(dims[1:]) not in ((1, 28, 28), (3, 32, 32)):
        raise SystemExit("input %s is neither 1x28x28 nor 3x32x32: use --random" % dims)
    images = read_idx(os.path.join(FMNIST_DIR, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(FMNIST_DIR, "train-labels-idx1-ubyte.gz"))
    if count > images.shape[0]:
        raise SystemExit("%d images asked, the training set has %d" % (count, images.shape[0]))
    return preprocess(images[:count], size32), labels[:count].astype(np.int64)


def prepare(net, mode, example):
    """The module in train mode; for qat, prepare_qat_fx'd with the fbgemm QAT mapping."""
    net.train()
    if mode == "qat":
        from torch.ao.quantization import get_default_qat_qconfig_mapping
        from torch.ao.quantization.quantize_fx import prepare_qat_fx
        torch.backends.quantized.engine = "onednn"  # Debian's torch has no fbgemm engine
        net = prepare_qat_fx(net, get_default_qat_qconfig_mapping("fbgemm"),
                             (torch.from_numpy(example),))
        net.train()
    return net


def accuracy_run(args, net, dims, lr, wd):
    """PyTorch's reference accuracy: EPOCHS over the training set (or its first --limit
    images), shuffled each epoch (numpy seed --seed, default 0), then top-1 on the 10,000 test images: the
    trained float model, or for qat the fake-quant model and convert_fx's int8 model (onednn).
    Prints one JSON line with each epoch's loss, train top-1 and img/s."""
    from torch_calib import test_set, top1
    size32 = tuple(dims[1:]) == (3, 32, 32)
    images = read_idx(os.path.join(FMNIST_DIR, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(FMNIST_DIR, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    if args.limit > 0:
        images, labels = images[:args.limit], labels[:args.limit]
    images = preprocess(images, size32)
    net = prepare(net, args.mode, images[:1])
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=wd)
    rng = np.random.default_rng(args.seed)
    epochs = []
    for e in range(args.epochs):
        net.train()
        order = rng.permutation(images.shape[0])
        loss_sum, correct, t0 = 0.0, 0, time.perf_counter()
        for s in range(0, len(order), args.batch):
            idx = order[s:s + args.batch]
            x, y = torch.from_numpy(images[idx]), torch.from_numpy(labels[idx])
            opt.zero_grad(set_to_none=True)
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            opt.step()
            loss_sum += float(loss) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
        seconds = time.perf_counter() - t0
        epochs.append({"epoch": e + 1, "train_loss": round(loss_sum / len(order), 5),
                       "train_top1": round(100.0 * correct / len(order), 2),
                       "img_per_s": round(len(order) / seconds, 1)})
        print(json.dumps(epochs[-1]), file=sys.stderr)
    net.eval()
    test_x, test_y = test_set(size32)
    out = {"runtime": "pytorch-fx-qat" if args.mode == "qat" else "pytorch-eager",
           "mode": args.mode, "model": args.model, "batch": args.batch, "lr": lr,
           "weight_decay": wd, "train_images": int(images.shape[0]), "epochs": epochs}
    if args.mode == "qat":
        from torch.ao.quantization.quantize_fx import convert_fx
        out["fake_quant_top1"] = round(top1(net, test_x, test_y, 256), 2)
        out["int8_top1"] = round(top1(convert_fx(net), test_x, test_y, 256), 2)
    else:
        out["float_top1"] = round(top1(net, test_x, test_y, 256), 2)
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--mode", choices=["qat", "float"], required=True)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batches", type=int, default=20, help="timed steps after the warm-up")
    ap.add_argument("--lr", type=float, help="default: 1e-4 (qat), 1e-3 (float)")
    ap.add_argument("--weight-decay", type=float, help="default: 0 (qat), 1e-4 (float)")
    ap.add_argument("--random", action="store_true", help="random inputs and labels")
    ap.add_argument("--epochs", type=int, default=0,
                    help="accuracy run instead of the bench: EPOCHS over all training images")
    ap.add_argument("--limit", type=int, default=0, help="accuracy run: first N training images")
    ap.add_argument("--seed", type=int, default=0, help="accuracy run: seed of the epoch order")
    args = ap.parse_args()
    if args.batch < 1 or args.batches < 1 or args.warmup < 0:
        raise SystemExit("--batch and --batches must be >= 1, --warmup >= 0")
    lr = args.lr if args.lr is not None else (1e-4 if args.mode == "qat" else 1e-3)
    wd = args.weight_decay if args.weight_decay is not None else (
        0.0 if args.mode == "qat" else 1e-4)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t_start = time.perf_counter()
    model = onnx.load(args.model)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    net = OnnxTrainModule(model)
    ref_diff = check_reference(net, args.model)
    del model
    build_s = time.perf_counter() - t_start
    if args.epochs > 0:
        return accuracy_run(args, net, dims, lr, wd)
    steps = args.warmup + args.batches
    images, labels = training_batches(dims, steps * args.batch, args.random)

    t0 = time.perf_counter()
    net = prepare(net, args.mode, images[:1])
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=wd)
    prepare_s = time.perf_counter() - t0

    times, losses = [], []
    for s in range(steps):
        a = time.perf_counter()
        x = torch.from_numpy(images[s * args.batch:(s + 1) * args.batch])
        y = torch.from_numpy(labels[s * args.batch:(s + 1) * args.batch])
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - a)
        losses.append(float(loss))
    timed = times[args.warmup:]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({
        "runtime": "pytorch-fx-qat" if args.mode == "qat" else "pytorch-eager",
        "mode": args.mode, "model": args.model, "batch": args.batch, "threads": args.threads,
        "warmup": args.warmup, "batches": args.batches, "lr": lr, "weight_decay": wd,
        "data": "random" if args.random else "fashion-mnist-train",
        "build_s": round(build_s, 3), "prepare_s": round(prepare_s, 3),
        "median_step_ms": round(1e3 * statistics.median(timed), 2),
        "img_per_s": round(args.batch / statistics.median(timed), 1),
        "mean_img_per_s": round(args.batch * len(timed) / sum(timed), 1),
        "epoch_img_per_s": round(args.batch * steps / sum(times), 1),
        "first_loss": round(losses[0], 5), "last_loss": round(losses[-1], 5),
        "peak_rss_mib": round(rss, 1), "reference_max_abs_diff": ref_diff}))


if __name__ == "__main__":
    main()
