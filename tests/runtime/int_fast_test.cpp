// The int8 fast kernels (oneDNN accumulation + hq's output stage, dnnl_int_conv.cpp)
// against the reference kernels of ai.hq.QConv / QGemm: identical bytes on random shapes,
// residuals, clamps, int32 outputs, per-channel multipliers and adversarial extremes; the
// fallback decisions (no VNNI, accumulator bound, int16) taken and reported.
#include <catch2/catch.hpp>

#include <oneapi/dnnl/dnnl.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <random>
#include <set>
#include <string>

#include "ir/graph.h"
#include "ir/op_registry.h"
#include "runtime/executor.h"
#include "runtime/kernel.h"
#include "runtime/kernels/dnnl_int_requant.h"
#include "runtime/kernels/dnnl_kernels.h"
#include "support/fixed_point.h"

namespace hq {
namespace {

bool hasVnni() {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
         isa == dnnl::cpu_isa::avx512_core_amx;
}

template <typename T>
Tensor randomInts(Shape shape, int64_t lo, int64_t hi, std::mt19937& rng) {
  Tensor t(DTypeOf<T>::value, std::move(shape));
  std::uniform_int_distribution<int64_t> d(lo, hi);
  T* p = t.data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(d(rng));
  return t;
}

template <typename T>
Tensor filled(Shape shape, int64_t v) {
  Tensor t(DTypeOf<T>::value, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = static_cast<T>(v);
  return t;
}

ValueInfo infoOf(const Tensor* t, bool constant) {
  ValueInfo v;
  if (!t) return v;
  v.dtype = t->dtype();
  v.shape = t->shape();
  v.hasShape = true;
  v.constant = constant ? t : nullptr;
  return v;
}

/// First differing element, or -1.
int64_t firstDifference(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return 0;
  const std::vector<int64_t> x = a.toInt64(), y = b.toInt64();
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] != y[i]) return static_cast<int64_t>(i);
  }
  return -1;
}

/// One ai.hq compute node with its tensors (X, W, B, R) and the expected output buffer.
struct IntCase {
  std::string op = "QConv";
  Attributes attrs;
  Tensor x, w, b, r;
  DType outType = DType::kInt8;
  Shape yShape;

  std::vector<const Tensor*> inputs() const {
    return {&x, &w, b.defined() ? &b : nullptr, r.defined() ? &r : nullptr};
  }
};

struct Outcome {
  std::string kernel;  ///< the fast kernel's name, or "reference" (fast path refused)
  std::string refusal;
  Tensor fast, ref;
};

Outcome runBoth(const IntCase& c) {
  Graph g;
  std::vector<Value*> ins;
  std::vector<const Tensor*> tensors = c.inputs();
  for (size_t i = 0; i < tensors.size(); ++i) {
    ins.push_back(tensors[i] ? g.addValue("in" + std::to_string(i), tensors[i]->dtype(),
                                          tensors[i]->shape(), true)
                             : nullptr);
  }
  Value* y = g.addValue("y", c.outType, c.yShape, true);
  Node* node = g.addNode(c.op, "qnode", ins, {y}, c.attrs, kIntDomain);
  std::vector<ValueInfo> in_infos;
  for (size_t i = 0; i < tensors.size(); ++i) in_infos.push_back(infoOf(tensors[i], i == 1 || i == 2));
  ValueInfo out_info;
  out_info.dtype = c.outType;
  out_info.shape = c.yShape;
  out_info.hasShape = true;

  Outcome o;
  o.ref = Tensor(c.outType, c.yShape);
  o.fast = Tensor(c.outType, c.yShape);
  KernelCall ref_call{*node, tensors, {&o.ref}};
  ReferenceKernel ref = findReferenceKernel(c.op, kIntDomain);
  REQUIRE(ref != nullptr);
  Status rs = ref(ref_call);
  INFO(rs.message());
  REQUIRE(rs.isOk());

  o.refusal = dnnl_rt::intFastRefusal(*node, in_infos, {out_info});
  auto k = prepareKernel(*node, in_infos, {out_info}, {});
  REQUIRE(k.isOk());
  o.kernel = (*k)->name();
  KernelCall fast_call{*node, tensors, {&o.fast}};
  Status fs = (*k)->run(fast_call);
  INFO(fs.message());
  REQUIRE(fs.isOk());
  return o;
}

/// Per-channel requantization attributes: random normalized multipliers, shifts in
/// [smin, smax]; with `residual` a residual multiplier at the same shift.
void setRequant(Attributes& a, int64_t channels, int smin, int smax, bool residual,
                std::mt19937& rng) {
  std::uniform_int_distribution<int64_t> m(fxp::kMultiplierMin, fxp::kMultiplierMax);
  std::uniform_int_distribution<int64_t> s(smin, smax);
  std::vector<int64_t> mult, shift, rm;
  for (int64_t o = 0; o < channels; ++o) {
    mult.push_back(m(rng));
    shift.push_back(s(rng));
    rm.push_back(m(rng) >> std::uniform_int_distribution<int>(0, 6)(rng));
  }
  a.set("multiplier", Attribute::ofInts(mult));
  a.set("shift", Attribute::ofInts(shift));
  if (residual) a.set("residual_multiplier", Attribute::ofInts(rm));
}

/// The int64 fixed-point bias of a requantized node (its "shift" attribute set): per
/// channel uniform in +-lsb output LSB (B = b / s_out * 2^shift, a random fraction of an
/// LSB included), within fxp::kMaxFixedBias.
Tensor fixedBias(const Attributes& a, int64_t channels, int64_t lsb, std::mt19937& rng) {
  const std::vector<int64_t> shift = a.getInts("shift");
  Tensor t(DType::kInt64, {channels});
  for (int64_t o = 0; o < channels; ++o) {
    const int s = static_cast<int>(shift.at(static_cast<size_t>(o)));
    const int64_t span = s >= 50 ? fxp::kMaxFixedBias : std::min(fxp::kMaxFixedBias, lsb << s);
    t.data<int64_t>()[o] = std::uniform_int_distribution<int64_t>(-span, span)(rng);
  }
  return t;
}

void setOut(Attributes& a, DType t, int64_t lo, int64_t hi) {
  a.set("out_type", Attribute::ofInt(t == DType::kInt8 ? 3 : t == DType::kInt16 ? 5 : 6));
  a.set("out_lo", Attribute::ofInt(lo));
  a.set("out_hi", Attribute::ofInt(hi));
}

struct ConvSpec {
  int64_t n = 1, c = 4, o = 8, h = 6, w = 6, kh = 3, kw = 3;
  int64_t stride = 1, pad = 1, dil = 1, group = 1;
  bool bias = true, residual = false;
  DType outType = DType::kInt8;
  int64_t lo = -128, hi = 127;
  int smin = 8, smax = 20;
};

IntCase convCase(const ConvSpec& s, std::mt19937& rng) {
  IntCase c;
  Attributes& a = c.attrs;
  a.set("kernel_shape", Attribute::ofInts({s.kh, s.kw}));
  a.set("strides", Attribute::ofInts({s.stride, s.stride}));
  a.set("pads", Attribute::ofInts({s.pad, s.pad, s.pad, s.pad}));
  a.set("dilations", Attribute::ofInts({s.dil, s.dil}));
  a.set("group", Attribute::ofInt(s.group));
  c.x = randomInts<int8_t>({s.n, s.c, s.h, s.w}, -128, 127, rng);
  c.w = randomInts<int8_t>({s.o, s.c / s.group, s.kh, s.kw}, -128, 127, rng);
  const int64_t oh = (s.h + 2 * s.pad - ((s.kh - 1) * s.dil + 1)) / s.stride + 1;
  const int64_t ow = (s.w + 2 * s.pad - ((s.kw - 1) * s.dil + 1)) / s.stride + 1;
  c.yShape = {s.n, s.o, oh, ow};
  c.outType = s.outType;
  if (s.residual) c.r = randomInts<int8_t>(c.yShape, -128, 127, rng);
  if (s.outType == DType::kInt16 && s.residual) c.r = randomInts<int16_t>(c.yShape, -32768, 32767, rng);
  if (s.outType != DType::kInt32) setRequant(a, s.o, s.smin, s.smax, s.residual, rng);
  setOut(a, s.outType, s.lo, s.hi);
  // The bias: int64 fixed-point for a requantized output, int32 for an int32 output.
  if (s.bias && s.outType == DType::kInt32) c.b = randomInts<int32_t>({s.o}, -100000, 100000, rng);
  if (s.bias && s.outType != DType::kInt32) c.b = fixedBias(a, s.o, 60, rng);
  return c;
}

void checkSame(const Outcome& o, const std::string& fast_name) {
  INFO("refusal: " << o.refusal);
  if (hasVnni()) {
    CHECK(o.refusal.empty());
    CHECK(o.kernel == fast_name);
  } else {
    CHECK(o.kernel == "reference");
  }
  const int64_t d = firstDifference(o.fast, o.ref);
  INFO("first difference at element " << d);
  CHECK(d == -1);
}

}  // namespace

TEST_CASE("int8 output stage: the AVX-512 loop gives fxp's bytes", "[int][dnnl]") {
  // Every combination of output type, residual and bias (none, or per channel: 0,
  // +-kMaxFixedBias, +-2^62 / 2^s-scaled and random values), acc anywhere in int32.
  std::mt19937 rng(7);
  const int64_t channels = 67, pixels = 9;  // a tail of 3 channels
  std::uniform_int_distribution<int64_t> any32(std::numeric_limits<int32_t>::min(),
                                               std::numeric_limits<int32_t>::max());
  std::uniform_int_distribution<int64_t> mult(0, fxp::kMultiplierMax);
  for (DType out_type : {DType::kInt8, DType::kInt16}) {
    for (bool residual : {false, true}) {
      for (int round = 0; round < 12; ++round) {
        const bool with_bias = round >= 4;
        std::vector<int32_t> m, rm;
        std::vector<int> s;
        for (int64_t o = 0; o < channels; ++o) {
          // Every shift 0..63 appears; edge multipliers included.
          s.push_back(static_cast<int>((o + round * 5) % 64));
          const int64_t pick = (o + round) % 5;
          m.push_back(static_cast<int32_t>(pick == 0 ? fxp::kMultiplierMax
                                           : pick == 1 ? fxp::kMultiplierMin
                                           : pick == 2 ? 0
                                                       : mult(rng)));
          rm.push_back(static_cast<int32_t>(mult(rng)));
        }
        const fxp::IntRange range = round % 2 ? fxp::IntRange{0, 6} :
                                    out_type == DType::kInt8 ? fxp::kInt8Range : fxp::kInt16Range;
        // The fixed-point bias: the extremes, 0, a fraction of an LSB, and random values.
        std::vector<int64_t> bias;
        std::uniform_int_distribution<int64_t> any_bias(-fxp::kMaxFixedBias, fxp::kMaxFixedBias);
        for (int64_t o = 0; with_bias && o < channels; ++o) {
          const int64_t pick = (o + round) % 6;
          const int sh = s[static_cast<size_t>(o)];
          bias.push_back(pick == 0   ? fxp::kMaxFixedBias
                         : pick == 1 ? -fxp::kMaxFixedBias
                         : pick == 2 ? 0
                         : pick == 3 ? (sh == 0 ? 1 : (int64_t{1} << (sh - 1)) - 1)  // < 1/2 LSB
                         : pick == 4 ? any_bias(rng) >> std::max(0, 57 - sh)  // +-16 LSB
                                     : any_bias(rng));
        }
        std::vector<int32_t> acc(static_cast<size_t>(channels * pixels));
        for (size_t i = 0; i < acc.size(); ++i) {
          acc[i] = static_cast<int32_t>(i % 11 == 0   ? std::numeric_limits<int32_t>::min()
                                        : i % 11 == 1 ? std::numeric_limits<int32_t>::max()
                                        : i % 11 < 5  ? any32(rng) >> (i % 31)
                                                      : any32(rng));
        }
        Tensor res = out_type == DType::kInt8
                         ? randomInts<int8_t>({channels * pixels}, -128, 127, rng)
                         : randomInts<int16_t>({channels * pixels}, -32768, 32767, rng);
        dnnl_rt::IntOutputStage stage(channels, bias, m, s,
                                      residual ? rm : std::vector<int32_t>{}, range, out_type,
                                      out_type);
        Tensor simd(out_type, {channels * pixels}), scalar(out_type, {channels * pixels});
        stage.run(acc.data(), residual ? res.raw() : nullptr, simd.raw(), pixels);
        stage.run(acc.data(), residual ? res.raw() : nullptr, scalar.raw(), pixels, true);
        // The scalar loop is fxp itself; check a few elements against fxp directly too.
        const std::vector<int64_t> sv = scalar.toInt64(), rv = res.toInt64();
        for (size_t i = 0; i < acc.size(); i += 37) {
          const size_t o = i % static_cast<size_t>(channels);
          const int64_t b = with_bias ? bias[o] : 0;
          const int32_t want =
              residual ? fxp::requantizeSumBiased(acc[i], m[o], static_cast<int32_t>(rv[i]),
                                                  rm[o], s[o], b, range)
                       : fxp::requantizeBiased(acc[i], {m[o], s[o]}, b, range);
          REQUIRE(sv[i] == want);
        }
        INFO("round " << round << " residual " << residual << " bias " << with_bias);
        CHECK(firstDifference(simd, scalar) == -1);
      }
    }
  }
}

TEST_CASE("int8 QConv fast kernel: random shapes give the reference's bytes", "[int][dnnl]") {
  std::mt19937 rng(11);
  std::vector<ConvSpec> specs;
  {
    ConvSpec s;  // plain 3x3, bias, full int8 range
    specs.push_back(s);
    s.n = 3, s.c = 3, s.o = 32, s.h = 9, s.w = 7, s.stride = 2;  // first-layer-like, batch 3
    specs.push_back(s);
    s = ConvSpec();
    s.c = s.o = s.group = 24, s.h = s.w = 8, s.n = 2;  // depthwise, ReLU6-like clamp
    s.lo = 0, s.hi = 96;
    specs.push_back(s);
    s.stride = 2, s.pad = 1, s.dil = 2, s.h = 11, s.w = 10;  // depthwise strided, dilated
    specs.push_back(s);
    s = ConvSpec();
    s.c = 16, s.o = 12, s.group = 4, s.kh = 3, s.kw = 2, s.pad = 2, s.n = 2;  // grouped
    specs.push_back(s);
    s = ConvSpec();
    s.c = 32, s.o = 40, s.kh = s.kw = 1, s.pad = 0, s.h = s.w = 4, s.n = 5;  // 1x1 + residual
    s.residual = true, s.lo = 0, s.hi = 127;
    specs.push_back(s);
    s.o = 17, s.c = 19;  // channel tails
    specs.push_back(s);
    s = ConvSpec();
    s.c = 8, s.o = 10, s.outType = DType::kInt32, s.lo = 0;  // int32 output, Relu
    s.hi = std::numeric_limits<int32_t>::max();
    specs.push_back(s);
    s = ConvSpec();
    s.c = 6, s.o = 9, s.outType = DType::kInt16, s.lo = -32768, s.hi = 32767, s.smin = 2,
    s.smax = 9, s.residual = true;  // int16 output with an int16 residual
    specs.push_back(s);
    s = ConvSpec();
    s.c = 16, s.o = 16, s.bias = false, s.smin = 0, s.smax = 63, s.h = s.w = 1, s.pad = 1;
    specs.push_back(s);  // 1x1 spatial input, every shift
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    INFO("spec " << i);
    Outcome o = runBoth(convCase(specs[i], rng));
    checkSame(o, specs[i].residual ? "dnnl:qconv+sum" : "dnnl:qconv");
  }
  // And random geometry.
  std::uniform_int_distribution<int> pick(0, 1 << 30);
  for (int round = 0; round < 24; ++round) {
    ConvSpec s;
    s.group = std::vector<int64_t>{1, 1, 2, 4}[pick(rng) % 4];
    const bool dw = pick(rng) % 3 == 0;
    s.c = dw ? 8 + pick(rng) % 24 : s.group * (1 + pick(rng) % 12);
    s.group = dw ? s.c : s.group;
    s.o = dw ? s.c : s.group * (1 + pick(rng) % 12);
    s.kh = 1 + pick(rng) % 3, s.kw = 1 + pick(rng) % 3;
    s.stride = 1 + pick(rng) % 2, s.pad = pick(rng) % 3, s.dil = 1 + pick(rng) % 2;
    s.h = s.kh * s.dil + pick(rng) % 6, s.w = s.kw * s.dil + pick(rng) % 6;
    s.n = 1 + pick(rng) % 4;
    s.bias = pick(rng) % 4 != 0;
    s.residual = pick(rng) % 2 == 0;
    if (pick(rng) % 2) s.lo = 0, s.hi = 1 + pick(rng) % 127;
    s.smin = 6 + pick(rng) % 8, s.smax = s.smin + pick(rng) % 10;
    INFO("round " << round << ": c " << s.c << " o " << s.o << " g " << s.group << " k " << s.kh
                  << "x" << s.kw << " s " << s.stride << " p " << s.pad << " d " << s.dil << " in "
                  << s.h << "x" << s.w << " n " << s.n);
    Outcome o = runBoth(convCase(s, rng));
    checkSame(o, s.residual ? "dnnl:qconv+sum" : "dnnl:qconv");
  }
}

TEST_CASE("int8 QConv fast kernel: adversarial extremes at the accumulator bound", "[int][dnnl]") {
  std::mt19937 rng(3);
  // K = 256 x 2 x 2 = 1024 weights of 127: bound 1024 * 127 * 128 = 16,646,144 < 2^24.
  ConvSpec s;
  s.n = 2, s.c = 256, s.o = 16, s.h = s.w = 3, s.kh = s.kw = 2, s.pad = 0;
  s.outType = DType::kInt32, s.lo = std::numeric_limits<int32_t>::min();
  s.hi = std::numeric_limits<int32_t>::max(), s.bias = false;
  for (int64_t xv : {-128, 127}) {
    for (int64_t wv : {127, -127}) {
      IntCase c = convCase(s, rng);
      c.x = filled<int8_t>(c.x.shape(), xv);
      c.w = filled<int8_t>(c.w.shape(), wv);
      Outcome o = runBoth(c);
      checkSame(o, "dnnl:qconv");
      CHECK(o.ref.data<int32_t>()[0] == xv * wv * 1024);
    }
  }
  // Same extremes through requantization with the largest multiplier, residual and bias
  // (random, and +-kMaxFixedBias: the 64-bit sum at its largest).
  s.outType = DType::kInt8, s.lo = -128, s.hi = 127, s.residual = true, s.bias = true;
  s.smin = 28, s.smax = 36;
  for (int64_t bv : {int64_t{0}, fxp::kMaxFixedBias, -fxp::kMaxFixedBias}) {
    IntCase c = convCase(s, rng);
    c.x = filled<int8_t>(c.x.shape(), -128);
    c.w = filled<int8_t>(c.w.shape(), 127);
    c.r = filled<int8_t>(c.r.shape(), 127);
    if (bv != 0) c.b = filled<int64_t>(c.b.shape(), bv);
    INFO("bias " << bv);
    Outcome o = runBoth(c);
    checkSame(o, "dnnl:qconv+sum");
    if (bv != 0) CHECK(o.ref.data<int8_t>()[0] == (bv > 0 ? 127 : -128));
  }
}

TEST_CASE("int8 fast kernels: fallbacks are taken and say why", "[int][dnnl]") {
  std::mt19937 rng(5);
  ConvSpec s;
  s.c = 300, s.o = 4, s.kh = s.kw = 2, s.pad = 0, s.h = s.w = 2;  // K = 1200
  IntCase c = convCase(s, rng);
  c.w = filled<int8_t>(c.w.shape(), 127);  // 1200 * 127 * 128 > 2^24
  Outcome o = runBoth(c);
  CHECK(o.kernel == "reference");
  CHECK(o.refusal.find(hasVnni() ? "2^24" : "VNNI") != std::string::npos);
  CHECK(firstDifference(o.fast, o.ref) == -1);

  ConvSpec s16;
  IntCase c16 = convCase(s16, rng);
  c16.x = randomInts<int16_t>(c16.x.shape(), -32768, 32767, rng);
  Outcome o16 = runBoth(c16);
  CHECK(o16.kernel == "reference");
  CHECK(o16.refusal == "int16 input X");
  CHECK(firstDifference(o16.fast, o16.ref) == -1);
}

// Run by the next test in a child process with ONEDNN_MAX_CPU_ISA=AVX512_CORE (no VNNI).
TEST_CASE("int8 fast kernels refuse without VNNI (child)", "[.int-novnni]") {
  REQUIRE(!hasVnni());
  std::mt19937 rng(5);
  ConvSpec s;
  Outcome o = runBoth(convCase(s, rng));
  CHECK(o.kernel == "reference");
  CHECK(o.refusal.find("VNNI") != std::string::npos);
  CHECK(firstDifference(o.fast, o.ref) == -1);
}

TEST_CASE("int8 fast kernels: a CPU without VNNI takes the reference", "[int][dnnl]") {
  if (!hasVnni()) return;  // this run already covers it
  // This test binary again, with oneDNN capped below VNNI (the shell's /proc/self/exe
  // would be the shell: resolve ours here).
  char self[4096] = {0};
  const ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
  REQUIRE(len > 0);
  const std::string run = "ONEDNN_MAX_CPU_ISA=AVX512_CORE '" + std::string(self, static_cast<size_t>(len)) +
                          "' '[.int-novnni]' >/dev/null 2>&1";
  CHECK(std::system(run.c_str()) == 0);
}

TEST_CASE("int8 QGemm fast kernel gives the reference's bytes", "[int][dnnl]") {
  std::mt19937 rng(9);
  for (int round = 0; round < 6; ++round) {
    IntCase c;
    c.op = "QGemm";
    const int64_t m = 1 + round * 13, k = 16 + round * 97, n = 3 + round * 5;
    const bool trans_b = round % 2 == 0;
    c.attrs.set("transB", Attribute::ofInt(trans_b ? 1 : 0));
    c.x = randomInts<int8_t>({m, k}, -128, 127, rng);
    c.w = randomInts<int8_t>(trans_b ? Shape{n, k} : Shape{k, n}, -128, 127, rng);
    c.yShape = {m, n};
    c.outType = round == 4 ? DType::kInt32 : DType::kInt8;
    if (c.outType == DType::kInt8) {
      const bool residual = round % 3 == 1;
      if (residual) c.r = randomInts<int8_t>(c.yShape, -128, 127, rng);
      setRequant(c.attrs, n, 10, 22, residual, rng);
      setOut(c.attrs, DType::kInt8, round == 5 ? 0 : -128, 127);
      if (round != 3) c.b = fixedBias(c.attrs, n, 60, rng);
    } else {
      setOut(c.attrs, DType::kInt32, std::numeric_limits<int32_t>::min(),
             std::numeric_limits<int32_t>::max());
      c.b = randomInts<int32_t>({n}, -50000, 50000, rng);
    }
    INFO("round " << round);
    checkSame(runBoth(c), c.r.defined() ? "dnnl:qgemm+sum" : "dnnl:qgemm");
  }
}

}  // namespace hq

namespace hq {
namespace {

/// x (int8) -> QConv s2 (clamp [0, 96]) = c1 -> depthwise QConv = c2 -> 1x1 QConv + c1
/// (residual) = c3 -> QMaxPool 2x2 s2 ceil_mode (oneDNN s8, NHWC in, plain out: a graph
/// output) = p -> QConv 3x3 = c4 -> QMaxPool 3x3 s1 pads 1 (NHWC in and out) = p2 -> 1x1
/// QConv with an int32 output = c5. Outputs p and c5.
std::unique_ptr<Graph> intChain(std::mt19937& rng) {
  auto g = std::make_unique<Graph>();
  Value* x = g->addValue("x", DType::kInt8, {-1, 3, 9, 9}, true);
  g->mutableInputs().push_back(x);
  auto weights = [&](const std::string& n, Shape s) {
    return g->addConstant(n, randomInts<int8_t>(std::move(s), -128, 127, rng));
  };
  // Requantized outputs (shifts 36..40): the int64 fixed-point bias, up to 20 LSB at
  // shift 38; the int32 output: its int32 bias.
  auto bias = [&](const std::string& n, int64_t o) {
    return g->addConstant(n, randomInts<int64_t>({o}, -(int64_t{20} << 38), int64_t{20} << 38,
                                                 rng));
  };
  auto bias32 = [&](const std::string& n, int64_t o) {
    return g->addConstant(n, randomInts<int32_t>({o}, -20000, 20000, rng));
  };
  auto conv = [&](const std::string& name, std::vector<Value*> ins, int64_t o, int64_t k,
                  int64_t stride, int64_t group, DType out, int64_t lo, int64_t hi) {
    Attributes a;
    a.set("kernel_shape", Attribute::ofInts({k, k}));
    a.set("strides", Attribute::ofInts({stride, stride}));
    a.set("pads", Attribute::ofInts({k / 2, k / 2, k / 2, k / 2}));
    a.set("group", Attribute::ofInt(group));
    if (out != DType::kInt32) setRequant(a, o, 36, 40, ins.size() > 3, rng);
    setOut(a, out, lo, hi);
    Value* y = g->addValue(name);
    g->addNode("QConv", name, ins, {y}, a, kIntDomain);
    return y;
  };
  Value* c1 = conv("c1", {x, weights("w1", {16, 3, 3, 3}), bias("b1", 16)}, 16, 3, 2, 1,
                   DType::kInt8, 0, 96);
  Value* c2 = conv("c2", {c1, weights("w2", {16, 1, 3, 3}), bias("b2", 16)}, 16, 3, 1, 16,
                   DType::kInt8, -128, 127);
  Value* c3 = conv("c3", {c2, weights("w3", {16, 16, 1, 1}), bias("b3", 16), c1}, 16, 1, 1, 1,
                   DType::kInt8, 0, 127);
  Attributes pa;
  pa.set("kernel_shape", Attribute::ofInts({2, 2}));
  pa.set("strides", Attribute::ofInts({2, 2}));
  pa.set("ceil_mode", Attribute::ofInt(1));
  Value* p = g->addValue("p");
  g->addNode("QMaxPool", "pool", {c3}, {p}, pa, kIntDomain);
  Value* c4 = conv("c4", {p, weights("w4", {24, 16, 3, 3}), bias("b4", 24)}, 24, 3, 1, 1,
                   DType::kInt8, -128, 127);
  Attributes pa2;
  pa2.set("kernel_shape", Attribute::ofInts({3, 3}));
  pa2.set("pads", Attribute::ofInts({1, 1, 1, 1}));
  Value* p2 = g->addValue("p2");
  g->addNode("QMaxPool", "pool2", {c4}, {p2}, pa2, kIntDomain);
  Value* c5 = conv("c5", {p2, weights("w5", {10, 24, 1, 1}), bias32("b5", 10)}, 10, 1, 1, 1,
                   DType::kInt32, std::numeric_limits<int32_t>::min(),
                   std::numeric_limits<int32_t>::max());
  g->mutableOutputs() = {p, c5};
  return g;
}

}  // namespace

TEST_CASE("int8 fast kernels in the executor: NHWC between them, plain for other readers",
          "[int][dnnl][executor]") {
  std::mt19937 rng(21);
  auto g = intChain(rng);
  ExecutorOptions ref_opts;
  ref_opts.kernels.referenceOnly = true;
  ExecutorOptions fast_opts;
  fast_opts.threads = 2;
  auto ref = Executor::create(*g, ref_opts);
  auto fast = Executor::create(*g, fast_opts);
  REQUIRE(ref.isOk());
  REQUIRE(fast.isOk());
  for (int64_t batch : {5, 1}) {  // 5: two chunks of 3 and 2 images on two threads
    std::vector<Tensor> in = {randomInts<int8_t>({batch, 3, 9, 9}, -128, 127, rng)};
    auto want = (*ref)->run(in);
    auto got = (*fast)->run(in);
    REQUIRE(want.isOk());
    INFO(got.status().message());
    REQUIRE(got.isOk());
    REQUIRE(got->size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      INFO("output " << i << " batch " << batch);
      CHECK(firstDifference((*got)[i], (*want)[i]) == -1);
    }
    // Not saturated to a constant: the comparison sees real requantized values.
    const std::vector<int64_t> pv = (*want)[0].toInt64();
    CHECK(std::set<int64_t>(pv.begin(), pv.end()).size() > 10);
    // Second run of the same plan: same bytes (buffers reused, in-place residual).
    auto again = (*fast)->run(in);
    REQUIRE(again.isOk());
    CHECK(firstDifference((*again)[1], (*want)[1]) == -1);
  }
  const std::vector<std::string> names = (*fast)->kernelNames();
  const auto count = [&](const std::string& n) { return std::count(names.begin(), names.end(), n); };
  CHECK(count("dnnl:pool-s8") == 2);  // exact on any CPU: a max
  if (hasVnni()) {
    CHECK(count("dnnl:qconv") == 4);
    CHECK(count("dnnl:qconv+sum") == 1);
  } else {
    CHECK(count("reference") == static_cast<long>(names.size()) - 2);
  }
}

}  // namespace hq
