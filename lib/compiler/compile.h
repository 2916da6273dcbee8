// hq-compile's engine: an integer model + a march -> an hbm::Model (schemas/hbm.proto) whose
// instruction stream the simulator (lib/sim) runs bit-exactly. The passes, each small and
// named, and the -O level that enables each are listed in one table, kPasses in compile.cpp
// (printed by `hq-compile --list-passes`):
//
//   check       refuse what hq-check refuses (same Diagnostics)              all levels
//   lower       legalize and fuse: layers, views (compiler/lower.h)          all levels
//   concat-in-place  producers write the slices of a channel concat that     -O2
//               needs no rescale (no copy)
//   layout      native NHWC layout, channels padded; pyramid/resizer input   all levels
//   fuse        layer fusion: groups of layers whose intermediates stay in   -O3
//               SRAM (no DDR round trip), weights of the group resident
//   tile        split layers into row tiles that fit SRAM with halos;        all levels
//               -O2/-O3 search the tile height that moves the fewest bytes
//   ddr-plan    DDR buffers with liveness-based reuse (compiler/memory_plan) all levels
//   sram-plan   SRAM: weights, tile slots (double-buffered from -O1)         all levels
//   schedule    emit DMA/compute/barrier instructions; -O0 runs serially and  all levels
//               reloads weights per tile; -O1 runs frame by frame with double-
//               buffered tiles (loads of tile t+1 overlap compute of t) and
//               weights once per layer and frame; -O2/-O3 run group by group
//               over the batch, weights once per run
//   pack        weights blob, layer table, descriptors, lineage              all levels
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/check.h"
#include "compiler/march.h"
#include "hbm.pb.h"
#include "ir/graph.h"
#include "support/status.h"

namespace hq {

enum class InputSource { kDdr, kPyramid, kResizer };
/// "ddr", "pyramid", "resizer".
const char* inputSourceName(InputSource source);
/// Parses "ddr" / "pyramid" / "resizer"; kInvalidArgument otherwise.
Expected<InputSource> parseInputSource(const std::string& name);

struct CompileOptions {
  int optLevel = 1;  ///< 0..3
  InputSource inputSource = InputSource::kDdr;
  int64_t batch = 1;  ///< frames per run, >= 1
  /// Lower-case hex SHA-256 of the source model file (the model CRC of reports); may be empty.
  std::string sourceModelSha256;
  /// Options as the user gave them, recorded in CompilerInfo.options (sorted by key there).
  std::vector<std::pair<std::string, std::string>> recordedOptions;
};

/// Time and a one-line note per pass that ran (for `hq-compile -v`).
struct PassTiming {
  std::string pass;
  double seconds = 0;
  std::string note;  ///< e.g. "54 layers, 3 views", "12 tiles", "DDR arena 1.2 MB"
};

/// What the compile produced, in numbers (the one-line summary and --json).
struct CompileStats {
  int64_t layers = 0;
  int64_t instructions = 0;
  int64_t dmaInstructions = 0, computeInstructions = 0, barriers = 0;
  int64_t tiles = 0;          ///< compute instructions (one per tile)
  int64_t fusedGroups = 0;    ///< -O3 layer groups with SRAM-resident intermediates
  int64_t weightBytes = 0;    ///< size of the packed weight blob
  int64_t ddrArenaBytes = 0;  ///< DDR the buffers span
  int64_t sramPeakBytes = 0;  ///< largest SRAM footprint of any layer or group
  /// Bytes the DMA instructions move per run, by direction and source (batch frames).
  int64_t ddrLoadBytes = 0;     ///< DDR -> SRAM (activations and inputs)
  int64_t ddrStoreBytes = 0;    ///< SRAM -> DDR
  int64_t weightLoadBytes = 0;  ///< WEIGHTS -> SRAM
  int64_t batchFrames = 1;      ///< frames per run
  /// All DDR traffic of one frame: (ddrLoad + ddrStore + weightLoad) / batch.
  double ddrBytesPerFrame() const;
};

struct CompileResult {
  hbm::Model model;
  CompileStats stats;
  std::vector<PassTiming> passes;
};

/// Compile an integer model. A model hq-check refuses is kUnsupported with the checker's
/// diagnostics, one per line, exactly as hq-check prints them ("node (op): [rule] message"),
/// and CompileResult is not produced; other failures name the node or tensor. Deterministic:
/// the same graph and options give the same model (and serializeHbm bytes).
Expected<CompileResult> compileModel(const Graph& int_model, const March& march,
                                     const CompileOptions& options);

/// The passes of kPasses with the lowest -O level that runs each, in order.
struct PassInfo {
  const char* name;
  int minLevel;
  const char* summary;
};
const std::vector<PassInfo>& compilerPasses();

/// One diagnostic as hq-check prints it: "node (op): [rule] message\n    suggestion: ...".
std::string formatDiagnostic(const Diagnostic& d);

}  // namespace hq
