"""PyTorch float inference throughput on an ONNX model, same protocol as hq-bench.

The ONNX graph is replayed eagerly with torch.nn.functional ops (Conv, Relu, Clip, Add,
MaxPool, AveragePool, GlobalAveragePool, Flatten, Gemm, BatchNormalization, Constant):
the same computation a torch.nn.Module rebuilt from the initializers performs. Random
uniform [-1, 1) input (seed 0); 3 warm-up batches, then batches until SECONDS have
passed (at least 10); prints one JSON line. Run with Debian's /usr/bin/python3:
    python3 bench/torch_bench.py MODEL [BATCH=256] [THREADS=2] [SECONDS=5]
"""
import json
import resource
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def attrs_of(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class OnnxAsTorch(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        g = model.graph
        self.consts = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in g.initializer}
        self.nodes = [(n.op_type, list(n.input), list(n.output), attrs_of(n)) for n in g.node]
        self.input_name = g.input[0].name
        self.output_name = g.output[0].name
        for op, _, outs, a in self.nodes:
            if op == "Constant":
                self.consts[outs[0]] = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())

    @staticmethod
    def _pads(a):
        p = a.get("pads", [0, 0, 0, 0])
        if p[0] != p[2] or p[1] != p[3]:
            raise ValueError("asymmetric pads not supported by this bench")
        return (p[0], p[1])

    def forward(self, x):
        env = dict(self.consts)
        env[self.input_name] = x
        for op, ins, outs, a in self.nodes:
            v = [env[i] if i else None for i in ins]
            if op == "Constant":
                continue
            if op == "Conv":
                y = F.conv2d(v[0], v[1], v[2] if len(v) > 2 else None, stride=a.get("strides", 1),
                             padding=self._pads(a), dilation=a.get("dilations", 1),
                             groups=a.get("group", 1))
            elif op == "Relu":
                y = F.relu(v[0])
            elif op == "Clip":
                lo = float(v[1]) if len(v) > 1 and v[1] is not None else a.get("min", None)
                hi = float(v[2]) if len(v) > 2 and v[2] is not None else a.get("max", None)
                y = F.hardtanh(v[0], lo, hi) if lo is not None and hi is not None else torch.clamp(v[0], lo, hi)
            elif op == "Add":
                y = v[0] + v[1]
            elif op == "MaxPool":
                y = F.max_pool2d(v[0], a["kernel_shape"], a.get("strides", 1), self._pads(a),
                                 ceil_mode=bool(a.get("ceil_mode", 0)))
            elif op == "AveragePool":
                y = F.avg_pool2d(v[0], a["kernel_shape"], a.get("strides", 1), self._pads(a),
                                 ceil_mode=bool(a.get("ceil_mode", 0)),
                                 count_include_pad=bool(a.get("count_include_pad", 0)))
            elif op == "GlobalAveragePool":
                y = F.adaptive_avg_pool2d(v[0], 1)
            elif op == "Flatten":
                y = torch.flatten(v[0], a.get("axis", 1))
            elif op == "Gemm":
                w = v[1] if a.get("transB", 0) else v[1].t()
                y = F.linear(v[0], w * a.get("alpha", 1.0),
                             v[2] * a.get("beta", 1.0) if len(v) > 2 else None)
            elif op == "BatchNormalization":
                y = F.batch_norm(v[0], v[3], v[4], v[1], v[2], False, 0.0, a.get("epsilon", 1e-5))
            elif op in ("Identity", "Dropout"):
                y = v[0]
            else:
                raise ValueError("op %s not supported by this bench" % op)
            env[outs[0]] = y
        return env[self.output_name]


def main():
    model_path = sys.argv[1]
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 5.0
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    model = onnx.load(model_path)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    dims[0] = batch
    net = OnnxAsTorch(model).eval()
    x = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, dims).astype(np.float32))
    times = []
    with torch.no_grad():
        net(x)
        prepare = time.perf_counter() - t0
        for _ in range(2):
            net(x)
        start = time.perf_counter()
        while len(times) < 10 or time.perf_counter() - start < seconds:
            a = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - a)
    times.sort()
    median = times[len(times) // 2]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"runtime": "pytorch", "model": model_path, "batch": batch, "threads": threads,
                      "iters": len(times), "median_batch_ms": round(1e3 * median, 3),
                      "img_per_s": round(batch / median, 1), "prepare_s": round(prepare, 3),
                      "peak_rss_mib": round(rss, 1)}))


if __name__ == "__main__":
    main()
