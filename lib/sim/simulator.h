// The functional NPU simulator: runs the instruction stream of an .hbm on SimMemory (DDR, banked
// SRAM, the weight blob) and produces the model's output bytes. Compute instructions run the
// layer's integer op (hbm Layer.op, schemas/int-ops.md) on their tile with the same reference
// kernels as the integer executor, so a correct compile is bit-exact with `hq-eval
// model.int.onnx`; what the simulator checks is everything the compiler decided: tiling and
// halos, per-tile padding, layouts, DMA regions, buffer reuse, SRAM slots and the
// synchronization tokens. Any inconsistency is a kInternal error naming the instruction
// ("simulator: instruction 12 (CONV, layer 'conv3'): ..."), never silent garbage.
//
// Execution order: every engine runs its own instructions in stream order; an instruction may
// start when all tokens it waits on are available (counting semaphores: signal +1, wait -1).
// By default the simulator runs an adversarial but deterministic interleaving — DMA loads run
// as far ahead as their tokens allow — so a missing wait shows up as wrong data or a read
// before write instead of hiding behind stream order. A state where instructions remain but
// none can start is a deadlock error; a token with a non-zero count at the end is an error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compiler/march.h"
#include "hbm.pb.h"
#include "ir/tensor.h"
#include "support/status.h"

namespace hq {

struct SimOptions {
  enum class Order {
    kEager,   ///< loads run ahead as far as tokens allow (default; see above)
    kStream,  ///< plain stream order (tokens still checked)
  };
  Order order = Order::kEager;
};

/// Counters of one run (all frames of the batch).
struct SimStats {
  int64_t instructions = 0;
  int64_t dmaLoads = 0, dmaStores = 0, computes = 0, barriers = 0;
  int64_t ddrBytesLoaded = 0;     ///< DDR -> SRAM payload bytes
  int64_t ddrBytesStored = 0;     ///< SRAM -> DDR payload bytes
  int64_t weightBytesLoaded = 0;  ///< WEIGHTS -> SRAM payload bytes
};

/// A March with the numbers of `summary` (what the simulator needs: SRAM size and banks, DDR
/// burst, channel group, clock, MAC array, ...); ops are empty.
March marchFromSummary(const std::string& name, const hbm::MarchSummary& summary);

class Simulator {
 public:
  /// Validates the model (validateHbm) and builds the memories. Errors kInvalidArgument for an
  /// invalid model, kInternal for memories that cannot be built.
  static Expected<std::unique_ptr<Simulator>> create(const hbm::Model& model,
                                                     const SimOptions& options = {});
  ~Simulator();

  /// One run of `batch` frames. `inputs` in model-input order, each the host-side tensor of
  /// ALL frames (see packInput in host_io.h for the accepted forms: for a DDR input the
  /// integer tensor [batch, C, H, W] (or [batch, K]) of the descriptor's dtype; for
  /// pyramid/resizer inputs uint8 NV12 [batch, H * 3 / 2, W]). Returns the outputs in
  /// model-output order as integer tensors [batch, ...logical shape...] of the descriptor's
  /// dtype. Errors: kInvalidArgument for inputs that do not fit the descriptors (naming the
  /// input), kInternal for a simulator error (a compiler bug).
  Expected<std::vector<Tensor>> run(const std::vector<Tensor>& inputs);

  /// Counters of the most recent run().
  const SimStats& stats() const;
  const hbm::Model& model() const;

 private:
  struct Impl;
  explicit Simulator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hq
