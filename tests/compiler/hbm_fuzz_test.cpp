// Damaged .hbm files, fuzz style, on a real compiled model (fmnist_cnn, tests/fixtures):
// every truncation, random byte flips with and without a matching checksum, and random
// changes of instruction and descriptor fields inside a valid container. The reader and
// the simulator must answer each with an error or a working model: never a crash or a hang.
#include <catch2/catch.hpp>

#include <chrono>
#include <random>
#include <string>

#include "compiler/compile.h"
#include "compiler/hbm.h"
#include "compiler/march.h"
#include "compiler/npu_test_models.h"
#include "ir/onnx_import.h"
#include "quant/convert.h"
#include "sim/evaluate_hbm.h"
#include "sim/simulator.h"
#include "support/sha256.h"

namespace {

/// fmnist_cnn compiled for bayes with `options` (the integer graph is converted once).
hq::hbm::Model compileFixture(int opt_level, hq::InputSource source, int64_t batch) {
  static std::unique_ptr<hq::Graph> int_graph = hq::testing::fmnistIntModel();
  return hq::testing::compileFor(*int_graph, opt_level, batch, source).model;
}

std::string mustSerialize(const hq::hbm::Model& m) {
  auto bytes = hq::serializeHbm(m);
  INFO(bytes.status().message());
  REQUIRE(bytes.isOk());
  return *bytes;
}

/// `bytes` with its trailing SHA-256 recomputed over everything before it.
std::string withChecksum(std::string bytes) {
  const size_t body = bytes.size() - hq::kHbmChecksumBytes;
  hq::Sha256 sha;
  sha.update(bytes.data(), body);
  const auto d = sha.digest();
  bytes.replace(body, d.size(), reinterpret_cast<const char*>(d.data()), d.size());
  return bytes;
}

/// A container around `payload` (schemas/hbm.md), bypassing serializeHbm's validation.
std::string container(const std::string& payload) {
  std::string out("HQHBM\0\x01\x00", 8);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
  out += payload;
  out.append(hq::kHbmChecksumBytes, '\0');
  return withChecksum(out);
}

std::string parseError(const std::string& bytes) {
  auto m = hq::parseHbm(bytes, "m.hbm");
  return m.isOk() ? "(parsed)" : m.status().message();
}

std::string firstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

/// Run a parsed model once on zero images: ok, or an error; never a crash.
bool runsOrRefuses(const hq::hbm::Model& m, std::string* why) {
  auto sim = hq::Simulator::create(m);
  if (!sim.isOk()) {
    *why = sim.status().message();
    return false;
  }
  std::vector<hq::Tensor> inputs;
  for (const hq::hbm::TensorDesc& d : m.inputs()) {
    hq::Shape shape(d.shape().begin(), d.shape().end());
    if (shape.empty() || shape.size() > 4) {
      *why = "input shape";
      return false;
    }
    int64_t numel = 1;
    for (int64_t& v : shape) {
      if (v <= 0 || v > 4096) {
        *why = "input shape";
        return false;
      }
      numel *= v;
    }
    if (numel > (int64_t{1} << 22)) {
      *why = "input shape";
      return false;
    }
    shape[0] = std::max<int64_t>(m.batch(), 1);
    auto host = hq::hbmInputFromImages(d, hq::Tensor(hq::DType::kFloat32, shape));
    if (!host.isOk()) {
      *why = host.status().message();
      return false;
    }
    inputs.push_back(std::move(*host));
  }
  auto out = (*sim)->run(inputs);
  if (!out.isOk()) {
    *why = out.status().message();
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("hbm fuzz: every truncation is refused with the exact message", "[hbm][fuzz]") {
  const std::string bytes = mustSerialize(compileFixture(1, hq::InputSource::kDdr, 1));
  REQUIRE(parseError(bytes) == "(parsed)");
  const std::string payload = std::to_string(bytes.size() - 48);
  const std::string total = std::to_string(bytes.size());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    const std::string e = parseError(bytes.substr(0, cut));
    std::string want;
    if (cut == 0) {
      want = "m.hbm: not an .hbm file (it is empty)";
    } else if (cut < hq::kHbmHeaderBytes) {
      want =
          "m.hbm: truncated .hbm file: " + std::to_string(cut) + " bytes, the header alone is 16";
    } else {
      want = "m.hbm: truncated .hbm file: " + std::to_string(cut) +
             " bytes, the header announces a " + payload + "-byte payload (" + total +
             " bytes with header and checksum)";
    }
    if (e != want) {
      INFO("cut at " << cut);
      REQUIRE(e == want);
    }
  }
}

TEST_CASE("hbm fuzz: corrupted, foreign and newer files: exact first lines", "[hbm][fuzz]") {
  const std::string bytes = mustSerialize(compileFixture(1, hq::InputSource::kDdr, 1));
  std::string b = bytes;
  b[bytes.size() / 3] ^= 0x40;
  CHECK(firstLine(parseError(b)) == "m.hbm: corrupted .hbm file: SHA-256 checksum mismatch");
  b = bytes;
  b.replace(0, 4,
            "\x7f"
            "ELF");
  CHECK(firstLine(parseError(b)) == "m.hbm: not an .hbm file (no HQHBM magic at the start)");
  b = bytes;
  b[6] = 2;
  CHECK(firstLine(parseError(b)) == "m.hbm: was written by a newer hq (format 2, this hq reads 1)");
  b = bytes;
  b[7] = 5;  // a newer minor of the same major reads (after its checksum is right)
  CHECK(firstLine(parseError(b)) == "m.hbm: corrupted .hbm file: SHA-256 checksum mismatch");
  CHECK(parseError(withChecksum(b)) == "(parsed)");
}

TEST_CASE("hbm fuzz: random byte flips give an error or a valid model", "[hbm][fuzz]") {
  const std::string bytes = mustSerialize(compileFixture(1, hq::InputSource::kDdr, 1));
  std::mt19937_64 rng(20261126);
  int refused_raw = 0, refused_fixed = 0, parsed_fixed = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string b = bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const size_t at = rng() % b.size();
      b[at] = static_cast<char>(b[at] ^ static_cast<char>(1 + rng() % 255));
    }
    // As damaged: the checksum (or the header) catches every flip.
    refused_raw += parseError(b) != "(parsed)";
    // With a matching checksum: the payload must still parse and validate, or be refused.
    auto m = hq::parseHbm(withChecksum(b), "m.hbm");
    if (m.isOk()) {
      ++parsed_fixed;
      CHECK(hq::validateHbm(*m).isOk());
      CHECK(hq::serializeHbm(*m).isOk());  // a model that parses also writes back
    } else {
      ++refused_fixed;
      CHECK(m.status().message().rfind("m.hbm: ", 0) == 0);
    }
  }
  CHECK(refused_raw == 300);
  CHECK(refused_fixed + parsed_fixed == 300);
  CHECK(refused_fixed > 0);
}

TEST_CASE("hbm fuzz: field mutations are refused, or run, or fail cleanly", "[hbm][fuzz]") {
  const hq::hbm::Model base = compileFixture(1, hq::InputSource::kPyramid, 1);
  std::string why;
  REQUIRE(runsOrRefuses(base, &why));
  std::mt19937_64 rng(6);
  auto pick = [&](int n) {
    return n <= 0 ? 0 : static_cast<int>(rng() % static_cast<uint64_t>(n));
  };
  auto jiggle = [&](uint64_t v) -> uint64_t {
    switch (rng() % 5) {
      case 0: return 0;
      case 1: return v + 1 + rng() % 64;
      case 2: return v > 0 ? v - 1 - (rng() % std::min<uint64_t>(v, 64)) : 1;
      case 3: return v * 2 + 1;
      default: return rng() % 100000;
    }
  };
  auto mutateRegion = [&](hq::hbm::Region* r) {
    switch (rng() % 6) {
      case 0: r->set_offset(jiggle(r->offset())); break;
      case 1: r->set_size(jiggle(r->size())); break;
      case 2: r->set_buffer_id(static_cast<uint32_t>(jiggle(r->buffer_id()))); break;
      case 3: r->set_space(static_cast<hq::hbm::Region::Space>(rng() % 4)); break;
      case 4:
        if (r->dims_size())
          r->set_dims(pick(r->dims_size()), static_cast<uint32_t>(jiggle(r->dims(0))));
        break;
      default:
        if (r->strides_size())
          r->set_strides(pick(r->strides_size()), static_cast<int64_t>(jiggle(8)));
        break;
    }
  };
  auto mutateOperand = [&](hq::hbm::Operand* o) {
    switch (rng() % 4) {
      case 0: mutateRegion(o->mutable_region()); break;
      case 1:
        if (o->shape_size())
          o->set_shape(pick(o->shape_size()), static_cast<int64_t>(jiggle(o->shape(0))));
        break;
      case 2: o->set_channel_stride(static_cast<uint32_t>(jiggle(o->channel_stride()))); break;
      default: o->set_dtype(static_cast<hq::hbm::DType>(rng() % 6)); break;
    }
  };

  // ~35 ms per simulated run; 100 trials: about 60 runs, 40 refusals by the reader.
  constexpr int kTrials = 100;
  int refused = 0, ran = 0, failed = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int trial = 0; trial < kTrials; ++trial) {
    hq::hbm::Model m = base;
    const int what = pick(10);
    hq::hbm::Instruction* in = m.mutable_instructions(pick(m.instructions_size()));
    switch (what) {
      case 0: in->set_opcode(static_cast<hq::hbm::Instruction::Opcode>(rng() % 7)); break;
      case 1: in->set_layer(static_cast<uint32_t>(jiggle(in->layer()))); break;
      case 2:
        if (in->waits_size() && rng() % 2) {
          in->mutable_waits()->RemoveLast();
        } else {
          in->add_waits(static_cast<uint32_t>(rng() % 64));
        }
        break;
      case 3:
        if (in->signals_size()) {
          in->set_signals(pick(in->signals_size()), static_cast<uint32_t>(rng() % 64));
        } else {
          in->add_signals(static_cast<uint32_t>(rng() % 64));
        }
        break;
      case 4:
      case 5:
        if (in->has_dma()) {
          mutateRegion(rng() % 2 ? in->mutable_dma()->mutable_src()
                                 : in->mutable_dma()->mutable_dst());
        } else if (in->has_compute()) {
          hq::hbm::ComputeOp* c = in->mutable_compute();
          mutateOperand(c->inputs_size() && rng() % 2 ? c->mutable_inputs(pick(c->inputs_size()))
                                                      : c->mutable_output());
        }
        break;
      case 6:
        if (in->has_compute()) {
          hq::hbm::TileGeometry* t = in->mutable_compute()->mutable_tile();
          switch (rng() % 4) {
            case 0: t->set_out_y(static_cast<uint32_t>(jiggle(t->out_y()))); break;
            case 1: t->set_out_h(static_cast<uint32_t>(jiggle(t->out_h()))); break;
            case 2: t->set_pad_top(static_cast<uint32_t>(jiggle(t->pad_top()))); break;
            default: t->set_pad_bottom(static_cast<uint32_t>(jiggle(t->pad_bottom()))); break;
          }
        }
        break;
      case 7: {
        hq::hbm::TensorDesc* d = rng() % 2 ? m.mutable_inputs(0) : m.mutable_outputs(0);
        switch (rng() % 4) {
          case 0: d->set_offset(jiggle(d->offset())); break;
          case 1: d->set_frame_stride_bytes(jiggle(d->frame_stride_bytes())); break;
          case 2: d->set_buffer_id(static_cast<uint32_t>(jiggle(d->buffer_id()))); break;
          default: d->set_layout(static_cast<hq::hbm::Layout>(rng() % 5)); break;
        }
        break;
      }
      case 8: {
        hq::hbm::Buffer* b = m.mutable_buffers(pick(m.buffers_size()));
        if (rng() % 2) {
          b->set_size(jiggle(b->size()));
        } else {
          b->set_offset(jiggle(b->offset()));
        }
        break;
      }
      default: {
        // Swap two instructions: the stream order changes, the tokens stay.
        const int a = pick(m.instructions_size()), b = pick(m.instructions_size());
        m.mutable_instructions()->SwapElements(a, b);
        break;
      }
    }
    std::string payload;
    REQUIRE(m.SerializeToString(&payload));
    auto parsed = hq::parseHbm(container(payload), "m.hbm");
    if (!parsed.isOk()) {
      ++refused;
      CHECK(parsed.status().message().rfind("m.hbm: ", 0) == 0);
      continue;
    }
    if (runsOrRefuses(*parsed, &why)) {
      ++ran;
    } else {
      ++failed;
      CHECK_FALSE(why.empty());
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO("refused " << refused << ", ran " << ran << ", failed cleanly " << failed);
  CHECK(refused + ran + failed == kTrials);
  CHECK(refused > 0);
  CHECK(ran > 0);
  CHECK(failed > 0);  // the simulator catches what validation cannot (tokens, reads before writes)
  CHECK(seconds < 60);  // no hang: each run ends (deadlocks are reported, not waited on)
}
