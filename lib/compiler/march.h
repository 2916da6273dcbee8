// March profiles: documented models of NPU accelerators (configs/marches/NAME.json, embedded
// into the library; schema schemas/march.schema.json; fields and units in
// configs/marches/README.md). Models, not vendor data. Users may pass their own file.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/status.h"

namespace hq {

/// The limits a march puts on one op (an entry of the profile's "ops"). An unset field means
/// "no limit"; an op absent from March::ops does not run on the march at all.
struct OpLimits {
  std::string boundary;                ///< "input"/"output": only at the model's boundary
  std::optional<int64_t> maxKernel;    ///< per spatial dim, elements
  std::optional<int64_t> maxStride;    ///< per spatial dim
  std::optional<int64_t> maxDilation;  ///< per spatial dim
  std::optional<int64_t> maxPad;       ///< per side, elements
  bool groupConv = true;               ///< group > 1 that is not depthwise
  bool depthwise = true;               ///< group == input channels
  bool residual = true;                ///< a fused residual input (QConv/QGemm)
  std::optional<int64_t> maxInChannels;
  std::optional<int64_t> maxOutChannels;
  std::vector<std::string> inTypes;       ///< allowed input dtypes ("int8"...); empty = any
  std::vector<std::string> outTypes;      ///< allowed output dtypes; empty = any
  std::optional<int64_t> maxTensorBytes;  ///< each input/output tensor, one frame, bytes
  std::vector<std::string> resizeModes;   ///< "nearest", "linear"; empty = any
  std::vector<int64_t> resizeFactors;     ///< integer up-scaling factors; empty = any
  std::vector<int64_t> axes;              ///< allowed axis attribute values; empty = any
};

/// A march profile: the machine model the checker, compiler and simulator work against.
struct March {
  std::string name;
  std::string description;
  std::string source;                  ///< where it was loaded from (file path or embedded path)
  std::string sha256;                  ///< SHA-256 (hex) of the march's canonical JSON text
  double clockMhz = 0;                 ///< core clock, MHz
  int64_t macRows = 0;                 ///< MAC array rows; rows * columns int8 MACs per cycle
  int64_t macColumns = 0;              ///< MAC array columns
  double int16Rate = 0;                ///< int16 MAC throughput as a fraction of int8's (0, 1]
  int64_t vectorElementsPerCycle = 0;  ///< elementwise/pooling unit, elements per cycle
  int64_t sramBytes = 0;               ///< on-chip SRAM, bytes
  int64_t sramBanks = 0;               ///< SRAM banks
  double ddrBytesPerS = 0;             ///< DDR bandwidth, bytes per second
  double ddrLatencyNs = 0;             ///< DDR access latency, ns
  int64_t ddrBurstBytes = 0;           ///< DDR burst (minimum transfer), bytes
  int64_t dmaEngines = 0;              ///< DMA engines that move data concurrently
  int64_t channelGroup = 0;            ///< channel alignment of the native layout (e.g. 8 or 16)
  /// Ops the march runs, by op type ("QConv", "QuantizeLinear", ...), with their limits.
  std::map<std::string, OpLimits> ops;

  /// int8 MACs per cycle (rows * columns).
  int64_t int8MacsPerCycle() const { return macRows * macColumns; }
  /// Limits of `op_type`, nullptr when the march does not run it.
  const OpLimits* limits(const std::string& op_type) const;
};

/// Load a march: a bundled name ("bayes", "bernoulli2"; see builtinMarchNames()) or a JSON
/// file. The file is validated against schemas/march.schema.json; errors name the file and the
/// JSON path. An unknown name is kNotFound listing the bundled ones.
Expected<March> loadMarch(const std::string& name_or_path);
/// The bundled march names, sorted.
std::vector<std::string> builtinMarchNames();

}  // namespace hq
