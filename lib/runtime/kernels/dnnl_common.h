// Shared pieces of the oneDNN fast kernels: the CPU engine and stream, conversions from
// hq shapes to oneDNN descriptors, and DnnlKernel, the base class that lets the executor
// keep oneDNN's blocked layouts (e.g. nChw16c) between consecutive oneDNN kernels.
//
// Include only from lib/runtime/kernels/dnnl_*.cpp and lib/runtime/executor.cpp:
// it pulls in dnnl.hpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "runtime/kernel.h"

namespace hq::dnnl_rt {

/// The process-wide CPU engine and an in-order stream on it.
dnnl::engine& cpuEngine();
dnnl::stream& cpuStream();

/// oneDNN dims from an hq shape.
dnnl::memory::dims toDims(const Shape& shape);
/// The dense row-major (plain) descriptor of a shape: nchw for 4-D, nc for 2-D...
dnnl::memory::desc plainDesc(const Shape& shape,
                             dnnl::memory::data_type type = dnnl::memory::data_type::f32);
/// Whether `d` is the plain row-major layout of its dims (any data type).
bool isPlain(const dnnl::memory::desc& d);

/// A f32 input whose data and shape are known at preparation time?
bool isF32(const ValueInfo& v);

/// Copies one layout into another through a reorder primitive (the source pointer and
/// the destination pointer are given per call).
class Reorder {
 public:
  Reorder() = default;
  Reorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to);
  bool valid() const { return static_cast<bool>(prim_); }
  void run(const void* from, void* to);

 private:
  dnnl::memory src_, dst_;
  dnnl::reorder prim_;
};

/// A buffer of `bytes`, 64-byte aligned, owned by a kernel (scratch for layout changes).
struct AlignedBuffer {
  std::shared_ptr<void> mem;
  void allocate(size_t bytes);
  void* get() const { return mem.get(); }
};

/// A fast kernel on oneDNN that can exchange blocked layouts with its neighbours.
///
/// Used on its own (through prepareKernel) every input and output is plain. The executor
/// instead calls configure() once before the first run, telling the kernel how each input
/// is stored and which outputs may be stored in a layout of the kernel's choice; it then
/// reads outputDescs() to size buffers and to tell consumers their input layouts.
class DnnlKernel : public PreparedKernel {
 public:
  /// `in[i]`: how input i is stored (ignored for inputs the kernel took as constants).
  /// `blocked_ok[i]`: output i may use a non-plain layout.
  Status configure(const std::vector<dnnl::memory::desc>& in, const std::vector<bool>& blocked_ok);
  /// The layout of each output, as written by run() (after configure()).
  const std::vector<dnnl::memory::desc>& outputDescs() const { return outDescs_; }
  /// Whether input i may be given in a non-plain layout.
  virtual bool acceptsBlocked(size_t input) const = 0;
  /// The input whose buffer output 0 may share (read-modify-write, e.g. a residual that
  /// conv accumulates into), or -1.
  virtual int inPlaceInput() const { return -1; }

  Status run(const KernelCall& call) final;

 protected:
  /// Build primitives for the given layouts; fill outDescs_.
  virtual void build(const std::vector<dnnl::memory::desc>& in, const std::vector<bool>& blocked_ok) = 0;
  /// Execute with configured layouts; pointers come from the call.
  virtual void execute(const KernelCall& call) = 0;

  std::vector<dnnl::memory::desc> outDescs_;

 private:
  bool configured_ = false;
};

}  // namespace hq::dnnl_rt
