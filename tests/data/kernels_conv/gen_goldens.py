#!/usr/bin/python3
"""Regenerates the golden cases of tests/runtime/conv_*.cpp and pool_*.cpp.

Outputs come from PyTorch (conv, transposed conv, pooling, batch norm) and numpy (Gemm,
MatMul), independently of hq's kernels. ONNX attributes that PyTorch lacks are mapped
explicitly: asymmetric pads by padding the input (or cropping a transposed-conv output),
SAME_* pads by the ONNX formula, count_include_pad=0 with asymmetric pads by dividing a
window sum by a window count.

Usage: /usr/bin/python3 tests/data/kernels_conv/gen_goldens.py
Writes conv_cases.txt and pool_cases.txt next to this script. Format, one case:
  case <name>
  op <OpType>
  attr <name> int|float|string|ints <values...>
  in f32|u8|i8 <rank> <dims...> : <values...>      (or: in none)
  out f32|i64 <rank> <dims...> : <values...>
  tol <absolute and relative tolerance>
  end
"""

import math
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240601)


def rand(*shape):
    return rng.standard_normal(shape).astype(np.float32)


class Writer:
    def __init__(self):
        self.lines = []

    def case(self, name, op, attrs, inputs, outputs, tol=1e-5):
        L = self.lines
        L.append(f"case {name}")
        L.append(f"op {op}")
        for k, v in attrs.items():
            if isinstance(v, str):
                L.append(f"attr {k} string {v}")
            elif isinstance(v, float):
                L.append(f"attr {k} float {v!r}")
            elif isinstance(v, int):
                L.append(f"attr {k} int {v}")
            else:
                L.append(f"attr {k} ints " + " ".join(str(int(x)) for x in v))
        for a in inputs:
            L.append("in none" if a is None else "in " + self.tensor(a))
        for a in outputs:
            L.append("out " + self.tensor(a))
        L.append(f"tol {tol}")
        L.append("end")

    @staticmethod
    def tensor(a):
        a = np.asarray(a)
        kind = {np.float32: "f32", np.int64: "i64", np.uint8: "u8", np.int8: "i8"}[a.dtype.type]
        dims = " ".join(str(d) for d in a.shape)
        if a.dtype == np.float32:
            vals = " ".join(f"{float(v):.9g}" for v in a.reshape(-1))
        else:
            vals = " ".join(str(int(v)) for v in a.reshape(-1))
        return f"{kind} {a.ndim} {dims} : {vals}"

    def save(self, path):
        with open(path, "w") as f:
            f.write("\n".join(self.lines) + "\n")


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def same_pads(in_sizes, k, s, d, upper):
    """ONNX SAME_*: output ceil(in / s); the odd pad at the end (UPPER) or start (LOWER)."""
    begin, end = [], []
    for i, n in enumerate(in_sizes):
        out = -(-n // s[i])
        total = max(0, (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - n)
        small, large = total // 2, total - total // 2
        begin.append(small if upper else large)
        end.append(large if upper else small)
    return begin, end


def torch_pad_arg(begin, end):
    """F.pad wants the last dim first: (w_begin, w_end, h_begin, h_end, ...)."""
    out = []
    for b, e in zip(reversed(begin), reversed(end)):
        out += [b, e]
    return out


CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONVT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def conv_ref(x, w, b, strides, dil, begin, end, group):
    xp = F.pad(t(x), torch_pad_arg(begin, end))
    y = CONV[x.ndim - 2](xp, t(w), None if b is None else t(b), stride=strides, dilation=dil,
                         groups=group)
    return y.numpy()


def gen_conv(W):
    # SAME_* shapes are chosen with odd total padding, so that UPPER and LOWER differ.
    # name, x shape, w shape, bias?, attrs
    cases = [
        ("conv2d_basic", (1, 1, 5, 5), (1, 1, 3, 3), False, {}),
        ("conv2d_pads_bias", (2, 3, 6, 5), (4, 3, 3, 3), True, {"pads": [1, 1, 1, 1]}),
        ("conv2d_asym_pads_strides", (1, 2, 7, 6), (3, 2, 3, 2), True,
         {"pads": [1, 0, 2, 1], "strides": [2, 3]}),
        ("conv2d_dilations", (1, 2, 9, 8), (2, 2, 3, 3), True,
         {"dilations": [2, 3], "pads": [2, 1, 0, 2]}),
        ("conv2d_groups", (2, 4, 6, 6), (6, 2, 3, 3), True, {"group": 2, "pads": [1, 1, 1, 1]}),
        ("conv2d_depthwise", (1, 3, 7, 7), (3, 1, 3, 3), True,
         {"group": 3, "strides": [2, 2], "pads": [1, 1, 1, 1]}),
        ("conv2d_depthwise_multiplier", (1, 2, 5, 5), (4, 1, 3, 3), False, {"group": 2}),
        ("conv2d_same_upper", (1, 2, 6, 7), (3, 2, 3, 4), True,
         {"auto_pad": "SAME_UPPER", "strides": [2, 3]}),
        ("conv2d_same_lower", (1, 2, 6, 7), (3, 2, 3, 4), True,
         {"auto_pad": "SAME_LOWER", "strides": [2, 3]}),
        ("conv2d_same_upper_dilated", (1, 1, 6, 7), (2, 1, 2, 3), False,
         {"auto_pad": "SAME_UPPER", "dilations": [3, 2]}),
        ("conv2d_valid", (1, 2, 7, 6), (2, 2, 3, 3), True,
         {"auto_pad": "VALID", "strides": [2, 2]}),
        ("conv2d_kernel_shape_1x1", (2, 5, 3, 4), (3, 5, 1, 1), True, {"kernel_shape": [1, 1]}),
        ("conv1d_strided_padded", (2, 3, 11), (4, 3, 3), True,
         {"strides": [2], "pads": [2, 1], "dilations": [2]}),
        ("conv1d_same_lower", (1, 2, 9), (2, 2, 4), True, {"auto_pad": "SAME_LOWER", "strides": [2]}),
        ("conv3d_pads_strides", (1, 2, 5, 6, 4), (3, 2, 3, 3, 2), True,
         {"pads": [1, 0, 1, 1, 2, 0], "strides": [2, 1, 2]}),
        ("conv3d_groups_dilated", (1, 4, 5, 5, 5), (2, 2, 2, 2, 2), False,
         {"group": 2, "dilations": [2, 1, 2]}),
    ]
    for name, xs, ws, has_b, attrs in cases:
        x, w = rand(*xs), rand(*ws)
        b = rand(ws[0]) if has_b else None
        r = len(xs) - 2
        s = attrs.get("strides", [1] * r)
        d = attrs.get("dilations", [1] * r)
        g = attrs.get("group", 1)
        ap = attrs.get("auto_pad", "NOTSET")
        if ap.startswith("SAME"):
            begin, end = same_pads(xs[2:], ws[2:], s, d, ap == "SAME_UPPER")
        elif ap == "VALID":
            begin, end = [0] * r, [0] * r
        else:
            p = attrs.get("pads", [0] * (2 * r))
            begin, end = p[:r], p[r:]
        y = conv_ref(x, w, b, s, d, begin, end, g)
        W.case(name, "Conv", attrs, [x, w] + ([b] if has_b else []), [y], tol=1e-4)


def convt_ref(x, w, b, strides, dil, begin, end, out_pad, group):
    """Full transposed conv (no pads), output_padding appended at the end, then cropped
    by begin / end (ONNX pads; non-negative here)."""
    r = x.ndim - 2
    y = CONVT[r](t(x), t(w), None, stride=strides, dilation=dil, groups=group).numpy()
    # output_padding: extra zero rows at the end of each spatial axis (bias added later).
    pad_width = [(0, 0), (0, 0)] + [(0, op) for op in out_pad]
    y = np.pad(y, pad_width)
    sl = [slice(None), slice(None)]
    for i in range(r):
        sl.append(slice(begin[i], y.shape[2 + i] - end[i]))
    y = y[tuple(sl)]
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * r)
    return np.ascontiguousarray(y.astype(np.float32))


def gen_convtranspose(W):
    cases = [
        ("convt2d_basic", (1, 1, 3, 3), (1, 2, 3, 3), False, {}),
        ("convt2d_strides_pads_bias", (2, 3, 4, 3), (3, 2, 3, 3), True,
         {"strides": [2, 3], "pads": [1, 0, 2, 1]}),
        ("convt2d_output_padding", (1, 2, 3, 4), (2, 3, 3, 2), True,
         {"strides": [3, 2], "output_padding": [2, 1]}),
        ("convt2d_dilations", (1, 2, 4, 4), (2, 1, 2, 3), True, {"dilations": [2, 3]}),
        ("convt2d_groups", (1, 4, 3, 3), (4, 3, 3, 3), True,
         {"group": 2, "strides": [2, 2], "pads": [1, 1, 1, 1]}),
        ("convt2d_depthwise", (1, 3, 4, 4), (3, 1, 2, 2), True, {"group": 3, "strides": [2, 2]}),
        ("convt2d_output_shape_crop", (1, 2, 3, 3), (2, 2, 3, 3), True,
         {"strides": [3, 2], "output_shape": [8, 6]}),
        ("convt2d_same_upper", (1, 2, 3, 4), (2, 2, 3, 3), True,
         {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
        ("convt2d_same_lower", (1, 2, 3, 4), (2, 2, 3, 3), True,
         {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
        ("convt1d_strided", (2, 2, 5), (2, 3, 4), True, {"strides": [3], "pads": [1, 2]}),
        ("convt3d_basic", (1, 2, 2, 3, 3), (2, 2, 2, 2, 3), True,
         {"strides": [2, 1, 2], "pads": [0, 1, 1, 1, 0, 0]}),
    ]
    for name, xs, ws, has_b, attrs in cases:
        x, w = rand(*xs), rand(*ws)
        g = attrs.get("group", 1)
        b = rand(ws[1] * g) if has_b else None
        r = len(xs) - 2
        s = attrs.get("strides", [1] * r)
        d = attrs.get("dilations", [1] * r)
        op = attrs.get("output_padding", [0] * r)
        ap = attrs.get("auto_pad", "NOTSET")
        full = [s[i] * (xs[2 + i] - 1) + op[i] + (ws[2 + i] - 1) * d[i] + 1 for i in range(r)]
        if "output_shape" in attrs or ap.startswith("SAME"):
            target = attrs.get("output_shape", [xs[2 + i] * s[i] for i in range(r)])
            total = [full[i] - target[i] for i in range(r)]
            if ap == "SAME_UPPER":
                begin = [tp // 2 for tp in total]
            else:
                begin = [tp - tp // 2 for tp in total]
            end = [total[i] - begin[i] for i in range(r)]
        else:
            p = attrs.get("pads", [0] * (2 * r))
            begin, end = p[:r], p[r:]
        y = convt_ref(x, w, b, s, d, begin, end, op, g)
        W.case(name, "ConvTranspose", attrs, [x, w] + ([b] if has_b else []), [y], tol=1e-4)


def gen_gemm(W):
    def case(name, m, k, n, c_shape, **attrs):
        ta, tb = attrs.get("transA", 0), attrs.get("transB", 0)
        a = rand(k, m) if ta else rand(m, k)
        b = rand(n, k) if tb else rand(k, n)
        c = None if c_shape is None else rand(*c_shape)
        y = attrs.get("alpha", 1.0) * ((a.T if ta else a) @ (b.T if tb else b))
        if c is not None:
            y = y + attrs.get("beta", 1.0) * c
        W.case(name, "Gemm", attrs, [a, b] + ([] if c is None else [c]), [y.astype(np.float32)])

    case("gemm_default_matrix_c", 3, 5, 4, (3, 4))
    case("gemm_no_c", 3, 6, 2, None)
    case("gemm_scalar_c", 2, 3, 4, ())
    case("gemm_vector_c", 4, 3, 5, (5,))
    case("gemm_single_elem_c", 2, 3, 3, (1,))
    case("gemm_column_c", 3, 4, 5, (3, 1))
    case("gemm_row_c", 3, 4, 5, (1, 5))
    case("gemm_transA", 3, 6, 4, (3, 4), transA=1)
    case("gemm_transB", 5, 7, 3, (3,), transB=1)
    case("gemm_all_attributes", 3, 5, 4, (1, 4), transA=1, transB=1, alpha=0.25, beta=0.35)
    case("gemm_alpha_beta_zero_c", 2, 4, 3, (2, 3), alpha=-1.5, beta=0.0)


def gen_matmul(W):
    def case(name, a_shape, b_shape):
        a, b = rand(*a_shape), rand(*b_shape)
        W.case(name, "MatMul", {}, [a, b], [np.matmul(a, b).astype(np.float32)])

    case("matmul_2d", (3, 4), (4, 5))
    case("matmul_3d", (2, 3, 4), (2, 4, 3))
    case("matmul_4d_broadcast", (2, 1, 3, 4), (1, 3, 4, 2))
    case("matmul_batch_times_matrix", (3, 2, 5), (5, 4))
    case("matmul_matrix_times_batch", (2, 5), (3, 5, 4))
    case("matmul_vec_matrix", (4,), (4, 3))
    case("matmul_matrix_vec", (3, 4), (4,))
    case("matmul_vec_vec", (5,), (5,))
    case("matmul_vec_batch", (4,), (2, 4, 3))


def gen_batchnorm(W):
    for name, xs, attrs in [("bn_4d", (2, 3, 4, 5), {}),
                            ("bn_2d_epsilon", (4, 3), {"epsilon": 0.01}),
                            ("bn_3d", (2, 4, 6), {"epsilon": 1e-3, "momentum": 0.8})]:
        c = xs[1]
        x, s, b, m = rand(*xs), rand(c), rand(c), rand(c)
        v = rng.random(c).astype(np.float32) + 0.1
        eps = attrs.get("epsilon", 1e-5)
        y = F.batch_norm(t(x), t(m), t(v), t(s), t(b), training=False, eps=eps).numpy()
        W.case(name, "BatchNormalization", attrs, [x, s, b, m, v], [y])
    # training_mode=1: batch statistics; running stats with momentum (ONNX: running =
    # input * momentum + current * (1 - momentum), population variance).
    xs = (3, 2, 4, 3)
    x, s, b, m = rand(*xs), rand(2), rand(2), rand(2)
    v = rng.random(2).astype(np.float32) + 0.1
    y = F.batch_norm(t(x), None, None, t(s), t(b), training=True, eps=1e-5).numpy()
    bm = x.mean(axis=(0, 2, 3))
    bv = x.var(axis=(0, 2, 3))
    rm = (m * 0.9 + bm * 0.1).astype(np.float32)
    rv = (v * 0.9 + bv * 0.1).astype(np.float32)
    W.case("bn_training_mode", "BatchNormalization", {"training_mode": 1}, [x, s, b, m, v],
           [y, rm, rv])


MAXP = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVGP = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def gen_pool(W):
    # MaxPool: symmetric pads go to torch directly (ceil_mode works there), asymmetric /
    # SAME pads by padding the input with -inf (no ceil_mode then).
    max_cases = [
        ("maxpool2d_default", (1, 2, 5, 5), {"kernel_shape": [2, 2]}),
        ("maxpool2d_pads_strides", (2, 2, 6, 7), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
                                                  "strides": [2, 2]}),
        ("maxpool2d_ceil", (1, 1, 6, 6), {"kernel_shape": [3, 3], "strides": [2, 2],
                                          "ceil_mode": 1}),
        ("maxpool2d_ceil_pads_drop_last", (1, 2, 5, 5),
         {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1}),
        ("maxpool2d_dilations", (1, 2, 7, 7), {"kernel_shape": [2, 3], "dilations": [2, 2],
                                               "strides": [1, 2]}),
        ("maxpool2d_asym_pads", (1, 2, 6, 5), {"kernel_shape": [3, 2], "pads": [0, 1, 2, 1],
                                               "strides": [2, 1]}),
        ("maxpool2d_same_upper", (1, 1, 6, 5), {"kernel_shape": [3, 2], "strides": [2, 2],
                                                "auto_pad": "SAME_UPPER"}),
        ("maxpool2d_same_lower", (1, 1, 6, 5), {"kernel_shape": [3, 2], "strides": [2, 2],
                                                "auto_pad": "SAME_LOWER"}),
        ("maxpool1d_strides", (2, 3, 9), {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}),
        ("maxpool3d_default", (1, 2, 4, 5, 4), {"kernel_shape": [2, 2, 3]}),
        ("maxpool3d_ceil_pads", (1, 1, 5, 5, 6),
         {"kernel_shape": [2, 3, 2], "strides": [2, 2, 2], "pads": [1, 1, 0, 1, 1, 0],
          "ceil_mode": 1}),
    ]
    for name, xs, attrs in max_cases:
        x = rand(*xs)
        r = len(xs) - 2
        k, s = attrs["kernel_shape"], attrs.get("strides", [1] * r)
        d = attrs.get("dilations", [1] * r)
        ap = attrs.get("auto_pad", "NOTSET")
        ceil = bool(attrs.get("ceil_mode", 0))
        if ap.startswith("SAME"):
            begin, end = same_pads(xs[2:], k, s, d, ap == "SAME_UPPER")
        else:
            p = attrs.get("pads", [0] * (2 * r))
            begin, end = p[:r], p[r:]
        if begin == end:
            y, idx = MAXP[r](t(x), k, s, begin, d, ceil_mode=ceil, return_indices=True)
        else:
            assert not ceil
            xp = F.pad(t(x), torch_pad_arg(begin, end), value=-math.inf)
            y, idx = MAXP[r](xp, k, s, 0, d, return_indices=True)
            idx = None
        y = y.numpy()
        W.case(name, "MaxPool", attrs, [x], [y])
        if idx is not None and r == 2:
            # Indices output: torch gives the index inside each N, C plane (row-major).
            planes = xs[0] * xs[1]
            plane = int(np.prod(xs[2:]))
            full = idx.numpy().astype(np.int64) + (np.arange(planes) * plane).reshape(
                xs[0], xs[1], 1, 1)
            W.case(name + "_indices", "MaxPool", attrs, [x], [y, full])
            h, w = xs[2], xs[3]
            local = idx.numpy().astype(np.int64)
            col = (local % w) * h + local // w
            col = col + (np.arange(planes) * plane).reshape(xs[0], xs[1], 1, 1)
            W.case(name + "_indices_col_major", "MaxPool", dict(attrs, storage_order=1), [x],
                   [y, col])

    # uint8 / int8 MaxPool
    xu = rng.integers(0, 256, size=(1, 2, 4, 5)).astype(np.uint8)
    yu = F.max_pool2d(t(xu.astype(np.float32)), 2, 1).numpy().astype(np.uint8)
    W.case("maxpool2d_uint8", "MaxPool", {"kernel_shape": [2, 2]}, [xu], [yu])
    xi = rng.integers(-128, 128, size=(1, 1, 5, 5)).astype(np.int8)
    yi = F.max_pool2d(t(xi.astype(np.float32)), 3, 2, 1).numpy().astype(np.int8)
    W.case("maxpool2d_int8_pads", "MaxPool",
           {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, [xi], [yi])

    avg_cases = [
        ("avgpool2d_default", (1, 2, 5, 5), {"kernel_shape": [2, 2]}),
        ("avgpool2d_pads_exclude", (2, 2, 6, 5), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
                                                  "strides": [2, 2]}),
        ("avgpool2d_pads_include", (2, 2, 6, 5), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
                                                  "strides": [2, 2], "count_include_pad": 1}),
        ("avgpool2d_ceil", (1, 1, 6, 6), {"kernel_shape": [3, 3], "strides": [2, 2],
                                          "ceil_mode": 1}),
        ("avgpool2d_ceil_pads_include", (1, 2, 7, 6),
         {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1,
          "count_include_pad": 1}),
        ("avgpool2d_ceil_pads_exclude", (1, 2, 7, 6),
         {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1}),
        ("avgpool2d_asym_pads_exclude", (1, 2, 6, 5), {"kernel_shape": [3, 2],
                                                       "pads": [0, 1, 2, 1], "strides": [2, 1]}),
        ("avgpool2d_asym_pads_include", (1, 2, 6, 5),
         {"kernel_shape": [3, 2], "pads": [0, 1, 2, 1], "strides": [2, 1],
          "count_include_pad": 1}),
        ("avgpool2d_same_upper", (1, 1, 6, 5), {"kernel_shape": [3, 2], "strides": [2, 2],
                                                "auto_pad": "SAME_UPPER"}),
        ("avgpool2d_same_lower_include", (1, 1, 5, 6),
         {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_LOWER",
          "count_include_pad": 1}),
        ("avgpool1d_pads", (2, 3, 9), {"kernel_shape": [4], "strides": [3], "pads": [2, 2]}),
        ("avgpool3d_pads_include", (1, 2, 4, 5, 4),
         {"kernel_shape": [2, 3, 3], "pads": [1, 1, 1, 1, 1, 1], "strides": [2, 2, 2],
          "count_include_pad": 1}),
    ]
    for name, xs, attrs in avg_cases:
        x = rand(*xs)
        r = len(xs) - 2
        k, s = attrs["kernel_shape"], attrs.get("strides", [1] * r)
        ap = attrs.get("auto_pad", "NOTSET")
        ceil = bool(attrs.get("ceil_mode", 0))
        include = bool(attrs.get("count_include_pad", 0))
        if ap.startswith("SAME"):
            begin, end = same_pads(xs[2:], k, s, [1] * r, ap == "SAME_UPPER")
        else:
            p = attrs.get("pads", [0] * (2 * r))
            begin, end = p[:r], p[r:]
        if begin == end:
            y = AVGP[r](t(x), k, s, begin, ceil_mode=ceil, count_include_pad=include).numpy()
        else:
            assert not ceil
            xp = F.pad(t(x), torch_pad_arg(begin, end))
            ones = F.pad(torch.ones_like(t(x)), torch_pad_arg(begin, end))
            vol = float(np.prod(k))
            sums = AVGP[r](xp, k, s) * vol
            counts = AVGP[r](torch.ones_like(xp) if include else ones, k, s) * vol
            y = (sums / counts).numpy()
        W.case(name, "AveragePool", attrs, [x], [y.astype(np.float32)])

    for name, xs in [("global_pools_2d", (2, 3, 4, 5)), ("global_pools_1d", (1, 2, 7)),
                     ("global_pools_3d", (1, 2, 3, 2, 4))]:
        x = rand(*xs)
        axes = tuple(range(2, len(xs)))
        W.case(name.replace("pools", "avgpool"), "GlobalAveragePool", {}, [x],
               [x.mean(axis=axes, keepdims=True).astype(np.float32)])
        W.case(name.replace("pools", "maxpool"), "GlobalMaxPool", {}, [x],
               [x.max(axis=axes, keepdims=True).astype(np.float32)])


def main():
    torch.set_num_threads(1)
    conv = Writer()
    gen_conv(conv)
    gen_convtranspose(conv)
    gen_gemm(conv)
    gen_matmul(conv)
    gen_batchnorm(conv)
    conv.save(os.path.join(HERE, "conv_cases.txt"))
    pool = Writer()
    gen_pool(pool)
    pool.save(os.path.join(HERE, "pool_cases.txt"))


if __name__ == "__main__":
    main()
