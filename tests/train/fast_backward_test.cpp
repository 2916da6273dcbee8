// The fast backwards and training forwards (train/backward/dnnl_backward.h) against their
// oracles: each fast Conv backward vs the reference backward of backward/conv.cpp, the
// training conv forward vs the reference kernel, on random geometries (depthwise, grouped,
// strided, padded, dilated, with and without bias); a whole GradGraph step with fast kernels
// vs KernelOptions::referenceOnly on fmnist_cnn; and two identical runs giving the same bytes.
//
// Tolerance: both sides sum the same float32 products in different orders (oneDNN blocks and
// vectorizes the reductions). For a sum of K products of values in [-1, 1] the rounding
// difference is bounded by about K * 2^-24 * sum |terms|; with K <= a few thousand here
// that is < 1e-4 of the largest |value| scale, so elements must agree within
// 1e-4 * (1 + max |reference|) (the worst seen is ~1e-6).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include <omp.h>

#include "ir/onnx_import.h"
#include "runtime/elementwise_test_util.h"
#include "train/autograd.h"
#include "train/backward/backward_fns.h"
#include "train/backward/binary.h"
#include "train/batchnorm.h"
#include "train/backward/dnnl_backward.h"
#include "train/fake_quant.h"
#include "train/grad_check.h"
#include "train/loss.h"
#include "train/tensor_pool.h"

namespace hq::train {
namespace {

using hq::testing::OneNode;

double maxAbs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(double(t.data<float>()[i])));
  return m;
}

/// |got - want| <= tol * (1 + max |want|) elementwise; returns the worst relative error.
double checkClose(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  REQUIRE(got.shape() == want.shape());
  const double scale = 1.0 + maxAbs(want);
  double worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double d = std::fabs(double(got.data<float>()[i]) - want.data<float>()[i]);
    worst = std::max(worst, d / scale);
  }
  INFO(what << ": worst difference " << worst << " of scale " << scale);
  CHECK(worst <= tol);
  return worst;
}

struct ConvCase {
  Shape x, w;
  int64_t group = 1;
  std::vector<int64_t> strides{1, 1}, pads{0, 0, 0, 0}, dil{1, 1};
  bool bias = true;
  std::string autoPad;
};

ConvCase mk(Shape x, Shape w, int64_t group, std::vector<int64_t> strides,
            std::vector<int64_t> pads, std::vector<int64_t> dil = {1, 1}, bool bias = true) {
  ConvCase c;
  c.x = std::move(x);
  c.w = std::move(w);
  c.group = group;
  c.strides = std::move(strides);
  c.pads = std::move(pads);
  c.dil = std::move(dil);
  c.bias = bias;
  return c;
}

Attributes convAttrs(const ConvCase& c) {
  Attributes a;
  a.set("group", Attribute::ofInt(c.group));
  a.set("strides", Attribute::ofInts(c.strides));
  a.set("dilations", Attribute::ofInts(c.dil));
  if (c.autoPad.empty()) {
    a.set("pads", Attribute::ofInts(c.pads));
  } else {
    a.set("auto_pad", Attribute::ofString(c.autoPad));
  }
  return a;
}

/// Fast forward and backward of one Conv vs the reference, with dY random.
void checkConv(const ConvCase& c, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<Tensor> in = {testing::randomFloats(c.x, -1, 1, rng),
                            testing::randomFloats(c.w, -1, 1, rng)};
  if (c.bias) in.push_back(testing::randomFloats({c.w[0]}, -1, 1, rng));
  OneNode n("Conv", in.size(), 1, convAttrs(c));
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : in) ptrs.push_back(&t);
  auto ref = runReference(*n.node, ptrs);
  REQUIRE(ref.isOk());
  const Tensor& y = (*ref)[0];

  // Forward.
  std::vector<ValueInfo> infos, outs(1);
  for (const Tensor& t : in) {
    ValueInfo v;
    v.dtype = DType::kFloat32;
    v.shape = t.shape();
    v.hasShape = true;
    infos.push_back(v);
  }
  outs[0].dtype = DType::kFloat32;
  outs[0].shape = y.shape();
  outs[0].hasShape = true;
  auto kernel = makeTrainConv(*n.node, infos, outs);
  REQUIRE(kernel != nullptr);
  Tensor yf(DType::kFloat32, y.shape());
  KernelCall kc{*n.node, ptrs, {&yf}};
  REQUIRE(kernel->run(kc).isOk());
  checkClose(yf, y, 1e-4, "Y");

  // Backward: the fast one twice (cached primitives) and the reference.
  Tensor gy = testing::randomFloats(y.shape(), -1, 1, rng);
  NodeBackward fast = fastBackwardOf(*n.node);
  REQUIRE(fast);
  auto run = [&](const NodeBackward& fn, std::vector<Tensor>& grads) {
    BackwardCall call{*n.node, ptrs, {&y}, {&gy}, {}};
    grads.clear();
    for (const Tensor& t : in) grads.emplace_back(DType::kFloat32, t.shape());
    for (Tensor& g : grads) {
      std::fill(g.data<float>(), g.data<float>() + g.numel(), 123.0f);  // must be overwritten
      call.gradInputs.push_back(&g);
    }
    Status s = fn(call);
    INFO(s.message());
    REQUIRE(s.isOk());
  };
  std::vector<Tensor> want, got, again;
  run(NodeBackward(&backwardConv), want);
  run(fast, got);
  run(fast, again);
  const char* names[] = {"dX", "dW", "dB"};
  for (size_t i = 0; i < in.size(); ++i) {
    checkClose(got[i], want[i], 1e-4, names[i]);
    CHECK(std::memcmp(got[i].raw(), again[i].raw(), got[i].nbytes()) == 0);
  }
}

TEST_CASE("fast backward: Conv matches the reference on random geometries", "[train]") {
  std::vector<ConvCase> cases;
  // Plain 3x3 / 1x1, few channels (plain layouts) and 16+ channels (blocked layouts).
  cases.push_back(mk({2, 3, 9, 9}, {8, 3, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}));
  cases.push_back(mk({3, 16, 6, 6}, {32, 16, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, false));
  cases.push_back(mk({2, 24, 7, 5}, {16, 24, 3, 3}, 1, {2, 2}, {1, 1, 1, 1}));
  // Depthwise, stride 1 and 2.
  cases.push_back(mk({2, 32, 8, 8}, {32, 1, 3, 3}, 32, {1, 1}, {1, 1, 1, 1}, {1, 1}, false));
  cases.push_back(mk({2, 48, 9, 7}, {48, 1, 3, 3}, 48, {2, 2}, {1, 1, 1, 1}));
  cases.push_back(mk({2, 5, 6, 6}, {5, 1, 3, 3}, 5, {1, 1}, {1, 1, 1, 1}));
  // Depthwise on 2x2 and 1x1 planes with pad 1 (oneDNN 2.6 has only its reference weight
  // gradient there: the fast backward takes hq's loops for dW and dB).
  cases.push_back(mk({2, 32, 2, 2}, {32, 1, 3, 3}, 32, {1, 1}, {1, 1, 1, 1}));
  cases.push_back(mk({3, 48, 1, 1}, {48, 1, 3, 3}, 48, {1, 1}, {1, 1, 1, 1}));
  cases.push_back(mk({2, 32, 2, 2}, {32, 1, 3, 3}, 32, {2, 2}, {1, 1, 1, 1}));
  cases.push_back(mk({2, 32, 3, 3}, {32, 1, 3, 3}, 32, {1, 1}, {2, 2, 2, 2}, {2, 2}, false));
  // Grouped (not depthwise), dilated, asymmetric pads, strides per axis, SAME_UPPER.
  cases.push_back(mk({2, 8, 7, 7}, {12, 2, 3, 3}, 4, {1, 1}, {1, 0, 2, 1}));
  cases.push_back(mk({1, 16, 11, 10}, {16, 16, 3, 3}, 1, {1, 1}, {2, 2, 2, 2}, {2, 2}));
  cases.push_back(mk({2, 4, 10, 9}, {6, 4, 2, 3}, 1, {2, 1}, {0, 1, 1, 0}, {1, 2}));
  ConvCase same = mk({2, 16, 7, 7}, {16, 16, 3, 3}, 1, {2, 2}, {0, 0, 0, 0});
  same.autoPad = "SAME_UPPER";
  cases.push_back(same);
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i);
    checkConv(cases[i], 40 + static_cast<unsigned>(i));
  }
}

TEST_CASE("fast backward: random Conv geometries", "[train]") {
  std::mt19937 rng(7);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  for (int it = 0; it < 12; ++it) {
    ConvCase c;
    const int64_t kind = pick(0, 2);  // 0 dense, 1 depthwise, 2 grouped
    const int64_t group = kind == 0 ? 1 : kind == 1 ? pick(2, 20) : pick(2, 4);
    const int64_t cpg = kind == 1 ? 1 : pick(1, 6);
    const int64_t mpg = kind == 1 ? 1 : pick(1, 6);
    const int64_t kh = pick(1, 3), kw = pick(1, 3);
    c.group = group;
    c.strides = {pick(1, 2), pick(1, 2)};
    c.dil = {pick(1, 2), pick(1, 2)};
    c.pads = {pick(0, kh - 1), pick(0, kw - 1), pick(0, kh - 1), pick(0, kw - 1)};
    const int64_t h = pick((kh - 1) * c.dil[0] + 1, 9), w = pick((kw - 1) * c.dil[1] + 1, 9);
    c.x = {pick(1, 3), group * cpg, h, w};
    c.w = {group * mpg, cpg, kh, kw};
    c.bias = pick(0, 1) == 1;
    INFO("iteration " << it << " x " << shapeString(c.x) << " w " << shapeString(c.w) << " group "
                      << group);
    checkConv(c, 100 + static_cast<unsigned>(it));
  }
}

TEST_CASE("fast backward: fake quant STE and per-tensor LSQ sums vs a plain loop", "[train]") {
  // 80,000 elements: above the size where the per-tensor scale gradient is summed in chunks.
  std::mt19937 rng(11);
  Tensor x = testing::randomFloats({4, 20, 1000}, -3, 3, rng);
  Tensor gy = testing::randomFloats(x.shape(), -1, 1, rng);
  Tensor scale = Tensor::fromVector<float>({1}, {0.02f});
  FakeQuantConfig cfg;  // int8
  // Special values: ties at k + 0.5 (0.02 * 2.5 etc. round to even), the range ends, NaN,
  // infinities, huge values.
  const float special[] = {0.05f,  -0.05f, 0.03f,         2.55f,    -2.57f,    2.54f,
                           -2.56f, 2.53f,  std::nanf(""), INFINITY, -INFINITY, 1e30f,
                           -1e30f, 0.0f,   -0.0f,         1e-30f,   83886.08f, -83886.1f};
  for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); ++i) {
    x.data<float>()[i * 997] = special[i];
  }
  // The oracle: STE mask and the LSQ sum in one sequential double loop.
  std::vector<float> want_dx(static_cast<size_t>(x.numel()));
  double want_ds = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = x.data<float>()[i];
    const float t = std::nearbyint(v / 0.02f);
    const bool in = t >= -128 && t <= 127;
    want_dx[static_cast<size_t>(i)] = in ? gy.data<float>()[i] : 0.0f;
    if (t != t) continue;  // NaN adds nothing to the scale gradient
    const double dq = in ? t - static_cast<double>(v) / 0.02f : (t < -128 ? -128 : 127);
    want_ds += gy.data<float>()[i] * dq;
  }
  Tensor dx(DType::kFloat32, x.shape()), dx_only(DType::kFloat32, x.shape());
  Tensor ds(DType::kFloat32, {1});
  REQUIRE(fakeQuantBackward(x, scale, cfg, gy, &dx, &ds).isOk());
  REQUIRE(fakeQuantBackward(x, scale, cfg, gy, &dx_only, nullptr).isOk());
  int64_t clipped = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    REQUIRE(dx.data<float>()[i] == want_dx[static_cast<size_t>(i)]);
    REQUIRE(dx_only.data<float>()[i] == want_dx[static_cast<size_t>(i)]);
    clipped += want_dx[static_cast<size_t>(i)] == 0.0f;
  }
  CHECK(clipped > 1000);  // the range clips: both branches are exercised
  // Double sums in another order: equal to ~1e-12 relative, then rounded to float.
  CHECK(ds.data<float>()[0] == Approx(want_ds).epsilon(1e-6));
}

TEST_CASE("fast backward: Clip's vectorized dX == its general loop (bounds, NaN)", "[train]") {
  std::mt19937 rng(12);
  Tensor x = testing::randomFloats({3, 7, 41, 53}, -2, 8, rng);  // > one parallel chunk
  const float special[] = {0.0f, 6.0f, -0.0f, std::nanf(""), INFINITY, -INFINITY, 5.9999995f};
  for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); ++i) {
    x.data<float>()[i * 31] = special[i];
  }
  Tensor lo = Tensor::fromVector<float>({}, {0.0f}), hi = Tensor::fromVector<float>({}, {6.0f});
  Tensor gy = testing::randomFloats(x.shape(), -1, 1, rng);
  OneNode n("Clip", 3, 1);
  Tensor fast(DType::kFloat32, x.shape()), general(DType::kFloat32, x.shape());
  Tensor dlo(DType::kFloat32, {}), dhi(DType::kFloat32, {});
  BackwardCall only_x{*n.node, {&x, &lo, &hi}, {nullptr}, {&gy}, {&fast, nullptr, nullptr}};
  BackwardCall all{*n.node, {&x, &lo, &hi}, {nullptr}, {&gy}, {&general, &dlo, &dhi}};
  REQUIRE(backwardClip(only_x).isOk());
  REQUIRE(backwardClip(all).isOk());  // the bound gradients take the general loop
  CHECK(std::memcmp(fast.raw(), general.raw(), fast.nbytes()) == 0);
  CHECK(fast.data<float>()[0] == 0.0f);                           // x == min
  CHECK(fast.data<float>()[31] == 0.0f);                          // x == max
  CHECK(fast.data<float>()[3 * 31] == gy.data<float>()[3 * 31]);  // NaN passes
  CHECK(fast.data<float>()[6 * 31] == gy.data<float>()[6 * 31]);  // just below max
}

TEST_CASE("fast backward: TensorPool hands buffers out again, zero-filled", "[train]") {
  auto pool = TensorPool::create();
  const void* first = nullptr;
  {
    Tensor t = pool->zeros(DType::kFloat32, {4, 64, 64});
    first = t.raw();
    std::fill(t.data<float>(), t.data<float>() + t.numel(), 7.0f);
    Tensor shared = t;  // the buffer returns only when the last holder lets go
  }
  CHECK(pool->idleBytes() == 4 * 64 * 64 * sizeof(float));
  Tensor again = pool->zeros(DType::kFloat32, {64, 256});  // same byte size
  CHECK(again.raw() == first);
  CHECK(pool->idleBytes() == 0);
  for (int64_t i = 0; i < again.numel(); ++i) REQUIRE(again.data<float>()[i] == 0.0f);
  Tensor other = pool->zeros(DType::kFloat32, {3, 64, 64});  // another size: a new buffer
  CHECK(other.raw() != first);
  Tensor small = pool->zeros(DType::kFloat32, {8});  // below kMinBytes: a plain tensor
  CHECK(small.numel() == 8);
  // uninitialized: the same reuse, the old contents kept (no zero fill).
  const void* third = nullptr;
  {
    Tensor t = pool->zeros(DType::kFloat32, {5, 64, 64});
    third = t.raw();
    std::fill(t.data<float>(), t.data<float>() + t.numel(), 5.0f);
  }
  Tensor kept = pool->uninitialized(DType::kFloat32, {5, 64, 64});
  CHECK(kept.raw() == third);
  CHECK(kept.shape() == Shape{5, 64, 64});
  CHECK(kept.data<float>()[kept.numel() - 1] == 5.0f);
}

TEST_CASE("fast backward: Relu's vectorized dX == dy * (x > 0)", "[train]") {
  std::mt19937 rng(13);
  Tensor x = testing::randomFloats({2, 9, 50, 41}, -1, 1, rng);  // > one parallel chunk
  Tensor gy = testing::randomFloats(x.shape(), -1, 1, rng);
  x.data<float>()[0] = 0.0f;
  x.data<float>()[1] = -0.0f;
  x.data<float>()[2] = std::nanf("");
  gy.data<float>()[3] = INFINITY;  // with x <= 0: inf * 0 = NaN, as the reference's product
  x.data<float>()[3] = -0.5f;
  OneNode n("Relu", 1, 1);
  Tensor dx(DType::kFloat32, x.shape());
  BackwardCall call{*n.node, {&x}, {nullptr}, {&gy}, {&dx}};
  REQUIRE(backwardRelu(call).isOk());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float want = gy.data<float>()[i] * (x.data<float>()[i] > 0.0f ? 1.0f : 0.0f);
    const float got = dx.data<float>()[i];
    REQUIRE((got == want || (std::isnan(got) && std::isnan(want))));
  }
  CHECK(std::isnan(dx.data<float>()[3]));
}

TEST_CASE("fast backward: MaxPool 2x2/2 gives the first maximum in scan order", "[train]") {
  // Values from {0, 1, 2} make ties common; 9x7 leaves a row and a column unread (floor),
  // 8x6, 6x40 and 4x30 are tiled exactly by the windows (the path that writes dX without a zero
  // fill; AVX-512 groups of 16 windows a row, partial ones masked: 3, 16 + 4, 15).
  for (const auto& [h, w] : {std::pair<int64_t, int64_t>{9, 7}, {8, 6}, {6, 40}, {4, 30}}) {
    INFO(h << "x" << w);
    std::mt19937 rng(14);
    std::uniform_int_distribution<int> pick(0, 2);
    Tensor x(DType::kFloat32, {2, 3, h, w});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(pick(rng));
    x.data<float>()[w + 3] = std::nanf("");  // a NaN never wins unless it comes first
    x.data<float>()[2 * w + 2] = std::nanf("");  // first in its window: it wins
    Attributes a;
    a.set("kernel_shape", Attribute::ofInts({2, 2}));
    a.set("strides", Attribute::ofInts({2, 2}));
    OneNode n("MaxPool", 1, 1, a);
    const int64_t oh_n = h / 2, ow_n = w / 2;
    Tensor gy = testing::randomFloats({2, 3, oh_n, ow_n}, -1, 1, rng);
    Tensor dx(DType::kFloat32, x.shape());
    std::fill(dx.data<float>(), dx.data<float>() + dx.numel(), 7.0f);  // overwritten
    BackwardCall call{*n.node, {&x}, {nullptr}, {&gy}, {&dx}};
    REQUIRE(backwardMaxPool(call).isOk());
    std::vector<float> want(static_cast<size_t>(x.numel()), 0.0f);
    for (int64_t p = 0; p < 6; ++p) {
      for (int64_t oh = 0; oh < oh_n; ++oh) {
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          int64_t at = -1;
          for (int64_t kh = 0; kh < 2; ++kh) {
            for (int64_t kw = 0; kw < 2; ++kw) {
              const int64_t i = p * h * w + (2 * oh + kh) * w + 2 * ow + kw;
              if (at < 0 || x.data<float>()[i] > x.data<float>()[at]) at = i;
            }
          }
          want[static_cast<size_t>(at)] += gy.data<float>()[(p * oh_n + oh) * ow_n + ow];
        }
      }
    }
    CHECK(want[static_cast<size_t>(2 * w + 2)] != 0.0f);  // the leading NaN took its gradient
    for (int64_t i = 0; i < x.numel(); ++i)
      REQUIRE(dx.data<float>()[i] == want[static_cast<size_t>(i)]);
  }
}

/// The gradients of a broadcasting binary op by a plain loop over the output (numpy
/// broadcasting, right-aligned), each term in double as the reference backward.
void binaryOracle(const std::string& op, const Tensor& a, const Tensor& b, const Tensor& gy,
                  std::vector<double>* ga, std::vector<double>* gb) {
  const Shape& out = gy.shape();
  const size_t r = out.size();
  ga->assign(static_cast<size_t>(a.numel()), 0.0);
  gb->assign(static_cast<size_t>(b.numel()), 0.0);
  std::vector<int64_t> coord(r, 0);
  for (int64_t o = 0; o < gy.numel(); ++o) {
    int64_t rem = o;
    for (size_t d = r; d-- > 0;) coord[d] = rem % out[d], rem /= out[d];
    auto offset = [&](const Shape& s) {
      int64_t off = 0;
      for (size_t d = 0; d < s.size(); ++d) {
        const int64_t c = s[d] == 1 ? 0 : coord[d + r - s.size()];
        off = off * s[d] + c;
      }
      return off;
    };
    const int64_t ia = offset(a.shape()), ib = offset(b.shape());
    const double g = gy.data<float>()[o], x = a.data<float>()[ia], y = b.data<float>()[ib];
    double da = g, db = g;
    if (op == "Sub") db = -g;
    if (op == "Mul") da = g * y, db = g * x;
    if (op == "Div") da = g / y, db = -g * x / (y * y);
    (*ga)[static_cast<size_t>(ia)] += da;
    (*gb)[static_cast<size_t>(ib)] += db;
  }
}

TEST_CASE("fast backward: broadcasting Add/Sub/Mul/Div vs a plain loop", "[train]") {
  // Per-channel [1, C, 1, 1], weight factors [C, 1, 1, 1], a [C] bias, scalars, same shapes,
  // either operand small, and shapes no fast path takes (both broadcast, two blocks).
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{4, 5, 6, 7}, {1, 5, 1, 1}}, {{1, 5, 1, 1}, {4, 5, 6, 7}}, {{6, 3, 3, 3}, {6, 1, 1, 1}},
      {{9, 10}, {10}},              {{3, 4, 5}, {}},              {{3, 4, 5}, {1}},
      {{2, 3, 40, 40}, {2, 3, 40, 40}}, {{4, 5, 6, 7}, {5, 6, 1}}, {{4, 1, 6}, {5, 1}},
      {{4, 5, 6, 7}, {1, 5, 1, 7}}, {{3, 2, 70, 80}, {1, 2, 1, 1}}};
  std::mt19937 rng(21);
  for (const std::string op : {"Add", "Sub", "Mul", "Div"}) {
    for (const auto& [sa, sb] : shapes) {
      for (int wants = 1; wants <= 3; ++wants) {
        INFO(op << " " << shapeString(sa) << " " << shapeString(sb) << " wants " << wants);
        Tensor a = testing::randomFloats(sa, -2, 2, rng);
        Tensor b = testing::randomFloats(sb, 0.5, 2, rng);  // no divisor near 0
        Shape out(std::max(sa.size(), sb.size()), 1);
        for (size_t d = 0; d < out.size(); ++d) {
          const int64_t da = d + sa.size() >= out.size() ? sa[d + sa.size() - out.size()] : 1;
          const int64_t db = d + sb.size() >= out.size() ? sb[d + sb.size() - out.size()] : 1;
          out[d] = std::max(da, db);
        }
        Tensor gy = testing::randomFloats(out, -1, 1, rng);
        if (gy.numel() > 3) gy.data<float>()[3] = std::nanf("");  // NaN flows through
        if (a.numel() > 2 && op != "Div") a.data<float>()[2] = INFINITY;
        OneNode n(op, 2, 1);
        Tensor ga(DType::kFloat32, sa), gb(DType::kFloat32, sb);
        BackwardCall call{*n.node, {&a, &b}, {nullptr}, {&gy},
                          {(wants & 1) ? &ga : nullptr, (wants & 2) ? &gb : nullptr}};
        Status st = op == "Add"   ? backwardAdd(call)
                    : op == "Sub" ? backwardSub(call)
                    : op == "Mul" ? backwardMul(call)
                                  : backwardDiv(call);
        REQUIRE(st.isOk());
        std::vector<double> wa, wb;
        binaryOracle(op, a, b, gy, &wa, &wb);
        for (int k = 0; k < 2; ++k) {
          if (!(wants & (1 << k))) continue;
          const Tensor& got = k == 0 ? ga : gb;
          const std::vector<double>& want = k == 0 ? wa : wb;
          // A gradient of the output's shape is one rounded term per element: the same
          // float; a summed one differs by the order of its double sum only.
          const bool summed = got.numel() < gy.numel();
          for (int64_t i = 0; i < got.numel(); ++i) {
            const float w = static_cast<float>(want[static_cast<size_t>(i)]);
            const float g = got.data<float>()[i];
            INFO("grad " << k << " element " << i << ": " << g << " vs " << w);
            if (std::isnan(w) || std::isinf(w) || !summed) {
              REQUIRE((g == w || (std::isnan(g) && std::isnan(w))));
            } else {
              REQUIRE(std::fabs(double(g) - w) <= 1e-6 * (1 + std::fabs(double(w))));
            }
          }
        }
        // Same bytes on repeat.
        Tensor ga2(DType::kFloat32, sa), gb2(DType::kFloat32, sb);
        BackwardCall again{*n.node, {&a, &b}, {nullptr}, {&gy},
                           {(wants & 1) ? &ga2 : nullptr, (wants & 2) ? &gb2 : nullptr}};
        REQUIRE((op == "Add"   ? backwardAdd(again)
                 : op == "Sub" ? backwardSub(again)
                 : op == "Mul" ? backwardMul(again)
                               : backwardDiv(again))
                    .isOk());
        if (wants & 1) CHECK(std::memcmp(ga.raw(), ga2.raw(), ga.nbytes()) == 0);
        if (wants & 2) CHECK(std::memcmp(gb.raw(), gb2.raw(), gb.nbytes()) == 0);
      }
    }
  }
}

TEST_CASE("fast backward: BatchNormalization training vs plain loops, any thread count",
          "[train]") {
  // Y is (x - mean) * (inv_std * scale) + B with the saved statistics (bytewise); dX, dscale,
  // dB against the textbook formulas in double; the same bytes with 1 and 2 threads.
  std::mt19937 rng(31);
  const int64_t n = 6, c = 5, h = 7, w = 9, plane = h * w;
  Tensor x = testing::randomFloats({n, c, h, w}, -3, 5, rng);
  Tensor scale = testing::randomFloats({c}, 0.5, 2, rng);
  Tensor bias = testing::randomFloats({c}, -1, 1, rng);
  Tensor gy = testing::randomFloats({n, c, h, w}, -1, 1, rng);
  auto run = [&](int threads, Tensor& y, Tensor& dx, Tensor& ds, Tensor& db, BatchNormSaved& s) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    REQUIRE(batchNormTrainForward(x, scale, bias, nullptr, nullptr, {}, y, &s).isOk());
    REQUIRE(batchNormTrainBackward(x, scale, s, gy, &dx, &ds, &db).isOk());
    omp_set_num_threads(before);
  };
  Tensor y(DType::kFloat32, x.shape()), dx(DType::kFloat32, x.shape());
  Tensor ds(DType::kFloat32, {c}), db(DType::kFloat32, {c});
  BatchNormSaved s;
  run(2, y, dx, ds, db, s);
  auto stats = batchNormStatistics(x, 1e-5f);
  REQUIRE(stats.isOk());
  CHECK(stats->mean == s.mean);
  CHECK(stats->invStd == s.invStd);
  const float* xd = x.data<float>();
  const float* g = gy.data<float>();
  for (int64_t k = 0; k < c; ++k) {
    const size_t u = static_cast<size_t>(k);
    const float a = s.invStd[u] * scale.data<float>()[k];
    double sg = 0, sgx = 0, mean = 0;
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t i = 0; i < plane; ++i) mean += xd[(b * c + k) * plane + i];
    }
    mean /= double(n * plane);
    CHECK(s.mean[u] == Approx(mean).epsilon(1e-6));
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t i = 0; i < plane; ++i) {
        const int64_t o = (b * c + k) * plane + i;
        REQUIRE(y.data<float>()[o] == (xd[o] - s.mean[u]) * a + bias.data<float>()[k]);
        sg += g[o];
        sgx += g[o] * (xd[o] - mean) * s.invStd[u];
      }
    }
    CHECK(db.data<float>()[k] == Approx(sg).epsilon(1e-5).margin(1e-5));
    CHECK(ds.data<float>()[k] == Approx(sgx).epsilon(1e-5).margin(1e-5));
    const double m = double(n * plane);
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t i = 0; i < plane; ++i) {
        const int64_t o = (b * c + k) * plane + i;
        const double xhat = (xd[o] - mean) * s.invStd[u];
        const double want = scale.data<float>()[k] * s.invStd[u] / m * (m * g[o] - sg - xhat * sgx);
        REQUIRE(dx.data<float>()[o] == Approx(want).margin(1e-5));
      }
    }
  }
  Tensor y1(DType::kFloat32, x.shape()), dx1(DType::kFloat32, x.shape());
  Tensor ds1(DType::kFloat32, {c}), db1(DType::kFloat32, {c});
  BatchNormSaved s1;
  run(1, y1, dx1, ds1, db1, s1);
  CHECK(std::memcmp(y.raw(), y1.raw(), y.nbytes()) == 0);
  CHECK(std::memcmp(dx.raw(), dx1.raw(), dx.nbytes()) == 0);
  CHECK(std::memcmp(ds.raw(), ds1.raw(), ds.nbytes()) == 0);
  CHECK(std::memcmp(db.raw(), db1.raw(), db.nbytes()) == 0);
}

TEST_CASE("fast backward: the training forward of Add/Sub/Mul/Div == one float op per element",
          "[train]") {
  // The shapes makeTrainBinary takes (same shapes, one operand per channel on either side,
  // scalars) give exactly a[ia] op b[ib]; shapes it does not take give no kernel.
  const std::vector<std::pair<Shape, Shape>> taken = {
      {{4, 5, 6, 7}, {1, 5, 1, 1}}, {{1, 5, 1, 1}, {4, 5, 6, 7}}, {{6, 3, 3, 3}, {6, 1, 1, 1}},
      {{9, 10}, {10}},              {{3, 4, 5}, {}},              {{2, 3, 40, 40}, {2, 3, 40, 40}},
      {{3, 2, 70, 80}, {1, 2, 1, 1}}};
  const std::vector<std::pair<Shape, Shape>> refused = {{{4, 1, 6}, {5, 1}},
                                                        {{4, 5, 6, 7}, {1, 5, 1, 7}}};
  std::mt19937 rng(41);
  auto infoOf = [](const Shape& s) {
    ValueInfo v;
    v.dtype = DType::kFloat32;
    v.shape = s;
    v.hasShape = true;
    return v;
  };
  for (const std::string op : {"Add", "Sub", "Mul", "Div"}) {
    OneNode n(op, 2, 1);
    for (const auto& [sa, sb] : refused) {
      CHECK(makeTrainBinary(*n.node, {infoOf(sa), infoOf(sb)}, {infoOf({4, 5, 6, 7})}) ==
            nullptr);
    }
    for (const auto& [sa, sb] : taken) {
      INFO(op << " " << shapeString(sa) << " " << shapeString(sb));
      const Shape& out = shapeNumel(sa) >= shapeNumel(sb) ? sa : sb;
      auto k = makeTrainBinary(*n.node, {infoOf(sa), infoOf(sb)}, {infoOf(out)});
      REQUIRE(k != nullptr);
      CHECK(k->name() == "train:binary");
      Tensor a = testing::randomFloats(sa, -2, 2, rng);
      Tensor b = testing::randomFloats(sb, -2, 2, rng);
      if (b.numel() > 1) b.data<float>()[1] = 0.0f;  // inf / NaN from a zero divisor
      if (a.numel() > 2) a.data<float>()[2] = std::nanf("");
      Tensor y(DType::kFloat32, out);
      KernelCall call{*n.node, {&a, &b}, {&y}};
      REQUIRE(k->run(call).isOk());
      const size_t r = out.size();
      std::vector<int64_t> coord(r, 0);
      for (int64_t o = 0; o < y.numel(); ++o) {
        int64_t rem = o;
        for (size_t d = r; d-- > 0;) coord[d] = rem % out[d], rem /= out[d];
        auto offset = [&](const Shape& s) {
          int64_t off = 0;
          for (size_t d = 0; d < s.size(); ++d) {
            off = off * s[d] + (s[d] == 1 ? 0 : coord[d + r - s.size()]);
          }
          return off;
        };
        const float x = a.data<float>()[offset(sa)], z = b.data<float>()[offset(sb)];
        const float want = op == "Add" ? x + z : op == "Sub" ? x - z : op == "Mul" ? x * z : x / z;
        const float got = y.data<float>()[o];
        REQUIRE((got == want || (std::isnan(got) && std::isnan(want))));
      }
      Tensor wrong = testing::randomFloats({2, 2}, -1, 1, rng);  // shapes checked at run
      KernelCall bad{*n.node, {&wrong, &b}, {&y}};
      CHECK_FALSE(k->run(bad).isOk());
    }
  }
}

/// One GradGraph step on a fixed batch: loss and gradients.
StepResult stepOn(const Graph& graph, bool reference, const Tensor& x,
                  const std::vector<int64_t>& labels) {
  AutogradOptions o;
  o.kernels.referenceOnly = reference;
  auto gg = GradGraph::create(graph, o);
  INFO(gg.status().message());
  REQUIRE(gg.isOk());
  auto r = (*gg)->step({x}, [&](const Tensor& t) { return softmaxCrossEntropy(t, labels); });
  INFO(r.status().message());
  REQUIRE(r.isOk());
  if (!reference) {
    auto names = (*gg)->kernelNames();
    CHECK(std::count(names.begin(), names.end(), "train:dnnl-conv") == 3);
  }
  return std::move(*r);
}

TEST_CASE("fast backward: fmnist_cnn step == referenceOnly step, and repeats bytewise", "[train]") {
  // Float, float with BatchNormalization, and a QDQ model (QAT through hq.FakeQuant).
  for (const std::string& path : {std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float.onnx",
                                  std::string(HQ_SOURCE_DIR) + "/models/fmnist_cnn.float-bn.onnx",
                                  std::string(HQ_TEST_DATA) + "/qdq/fmnist_cnn.qdq.onnx"}) {
    if (!std::filesystem::exists(path)) {
      WARN("skipped: " << path << " is missing");
      continue;
    }
    INFO(path);
    auto graph = importOnnxFile(path);
    REQUIRE(graph.isOk());
    std::mt19937 rng(5);
    Tensor x = testing::randomFloats({8, 1, 28, 28}, -1, 1, rng);
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < 8; ++i) labels.push_back((i * 7) % 10);
    StepResult want = stepOn(**graph, true, x, labels);
    StepResult got = stepOn(**graph, false, x, labels);
    StepResult again = stepOn(**graph, false, x, labels);
    CHECK(got.loss == Approx(want.loss).epsilon(1e-5));
    REQUIRE(got.grads.size() == want.grads.size());
    for (const auto& [name, g] : want.grads) {
      // Whole-graph gradients pass through several reductions: 1e-3 of the gradient's scale.
      checkClose(got.grads.at(name), g, 1e-3, name);
      const Tensor& a = again.grads.at(name);
      CHECK(std::memcmp(a.raw(), got.grads.at(name).raw(), a.nbytes()) == 0);
    }
  }
}

}  // namespace
}  // namespace hq::train
