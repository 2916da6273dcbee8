// hq-compile's driver: the pass table and compileModel. The steps of the plan live in
// compile_plan.cpp (layout, fusion groups, tiles, DDR and SRAM placement) and emit.cpp
// (instructions, dependencies as tokens, the packed model); see compile_internal.h.
#include "compiler/compile.h"

#include <chrono>

#include "compiler/compile_internal.h"
#include "compiler/lower.h"

namespace hq {

namespace {

// THE list of passes, in order, with the lowest -O level that runs each.
const std::vector<PassInfo> kPasses = {
    {"check", 0, "refuse what hq-check refuses, with the same diagnostics"},
    {"lower", 0, "legalize and fuse: one layer per fused integer node; Flatten/Reshape as views"},
    {"concat-in-place", 2,
     "a channel concat whose inputs need no rescale costs nothing: producers write its slices"},
    {"layout", 0,
     "native NHWC layout, channels padded to the march's group; pyramid/resizer NV12 input"},
    {"fuse", 3, "layer fusion: groups whose intermediates stay in SRAM, group weights resident"},
    {"tile", 0,
     "row tiles with halos that fit SRAM (-O2/-O3: search the tile height moving the fewest "
     "bytes)"},
    {"ddr-plan", 0, "DDR buffers with liveness-based reuse"},
    {"sram-plan", 0, "SRAM: weights, resident tensors, tile slots (double-buffered from -O1)"},
    {"schedule", 0,
     "DMA/compute/barrier instructions, tokens from memory dependencies: -O0 serial with weights "
     "reloaded per tile; -O1 frame by frame, double-buffered, weights once per layer and frame; "
     "-O2/-O3 group by group over the batch, weights once per run"},
    {"pack", 0, "weight blob, layer table, descriptors, lineage"},
};

}  // namespace

const std::vector<PassInfo>& compilerPasses() { return kPasses; }

const char* inputSourceName(InputSource source) {
  switch (source) {
    case InputSource::kDdr: return "ddr";
    case InputSource::kPyramid: return "pyramid";
    case InputSource::kResizer: return "resizer";
  }
  return "?";
}

Expected<InputSource> parseInputSource(const std::string& name) {
  if (name == "ddr") return InputSource::kDdr;
  if (name == "pyramid") return InputSource::kPyramid;
  if (name == "resizer") return InputSource::kResizer;
  return HQ_ERROR(kInvalidArgument, "unknown input source '{}' (expected ddr, pyramid or resizer)",
                  name);
}

double CompileStats::ddrBytesPerFrame() const {
  return batchFrames > 0
             ? static_cast<double>(ddrLoadBytes + ddrStoreBytes + weightLoadBytes) / batchFrames
             : 0.0;
}

std::string formatDiagnostic(const Diagnostic& d) {
  return fmt::format("{} ({}): [{}] {}\n    suggestion: {}", d.node, d.op, d.rule, d.message,
                     d.suggestion);
}

Expected<CompileResult> compileModel(const Graph& int_model, const March& march,
                                     const CompileOptions& options) {
  if (options.optLevel < 0 || options.optLevel > 3)
    return HQ_ERROR(kInvalidArgument, "optimization level {} is not one of 0, 1, 2, 3",
                    options.optLevel);
  if (options.batch < 1 || options.batch > 65536)
    return HQ_ERROR(kInvalidArgument, "batch {} is outside [1, 65536]", options.batch);
  CompileResult result;
  using Clock = std::chrono::steady_clock;
  auto timed = [&](const char* pass, auto&& body) -> Status {
    auto t0 = Clock::now();
    std::string note;
    Status s = body(&note);
    result.passes.push_back(
        {pass, std::chrono::duration<double>(Clock::now() - t0).count(), std::move(note)});
    return s;
  };

  HQ_RETURN_IF_ERROR(timed("check", [&](std::string* note) -> Status {
    HQ_ASSIGN_OR_RETURN(CheckReport report, checkModel(int_model, march));
    if (!report.supported) {
      std::string msg = fmt::format("this model is not supported on march '{}': {} problem(s)",
                                    march.name, report.diagnostics.size());
      for (const Diagnostic& d : report.diagnostics) msg += "\n  " + formatDiagnostic(d);
      return Status(ErrorCode::kUnsupported, msg);
    }
    *note = fmt::format("{} nodes supported", report.summary.nodes);
    return Status::ok();
  }));

  compile_internal::Plan plan(int_model, march, options);
  HQ_RETURN_IF_ERROR(timed("lower", [&](std::string* note) { return plan.lower(note); }));
  if (options.optLevel >= 2) {
    // Decided while lowering (ConcatLowering::kViewWhenFree); listed as its own pass.
    int64_t in_place = 0;
    for (const LayerView& v : plan.lowered_.views) in_place += v.opType == "QConcat" ? 1 : 0;
    result.passes.push_back({"concat-in-place", 0.0, fmt::format("{} concats in place", in_place)});
  }
  HQ_RETURN_IF_ERROR(timed("layout", [&](std::string* note) { return plan.layout(note); }));
  if (options.optLevel >= 3)
    HQ_RETURN_IF_ERROR(timed("fuse", [&](std::string* note) { return plan.fuse(note); }));
  else
    plan.singleLayerGroups();
  HQ_RETURN_IF_ERROR(timed("tile", [&](std::string* note) { return plan.tile(note); }));
  HQ_RETURN_IF_ERROR(timed("ddr-plan", [&](std::string* note) { return plan.planDdr(note); }));
  HQ_RETURN_IF_ERROR(timed("sram-plan", [&](std::string* note) { return plan.planSram(note); }));
  HQ_RETURN_IF_ERROR(timed("schedule", [&](std::string* note) { return plan.schedule(note); }));
  HQ_RETURN_IF_ERROR(timed(
      "pack", [&](std::string* note) { return plan.pack(&result.model, &result.stats, note); }));
  for (const PassTiming& p : result.passes) result.model.mutable_compiler()->add_passes(p.pass);
  return result;
}

}  // namespace hq
