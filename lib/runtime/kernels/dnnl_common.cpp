#include "runtime/kernels/dnnl_common.h"

#include <cstdlib>

namespace hq::dnnl_rt {

using dnnl::memory;

dnnl::engine& cpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpuStream() {
  static dnnl::stream stream(cpuEngine());
  return stream;
}

memory::dims toDims(const Shape& shape) { return memory::dims(shape.begin(), shape.end()); }

memory::desc plainDesc(const Shape& shape, memory::data_type type) {
  memory::dims dims = toDims(shape);
  if (dims.empty()) dims = {1};
  memory::dims strides(dims.size(), 1);
  for (size_t i = dims.size() - 1; i > 0; --i) strides[i - 1] = strides[i] * dims[i];
  return memory::desc(dims, type, strides);
}

bool isPlain(const memory::desc& d) {
  if (d.data.ndims == 0) return true;
  Shape shape(d.data.dims, d.data.dims + d.data.ndims);
  return d == plainDesc(shape, d.data_type());
}

bool isF32(const ValueInfo& v) {
  return v.dtype == DType::kFloat32 && v.hasShape && shapeNumel(v.shape) >= 0;
}

Reorder::Reorder(const memory::desc& from, const memory::desc& to) {
  src_ = memory(from, cpuEngine(), DNNL_MEMORY_NONE);
  dst_ = memory(to, cpuEngine(), DNNL_MEMORY_NONE);
  prim_ = dnnl::reorder(src_, dst_);
}

void Reorder::run(const void* from, void* to) {
  src_.set_data_handle(const_cast<void*>(from));
  dst_.set_data_handle(to);
  prim_.execute(cpuStream(), src_, dst_);
}

void AlignedBuffer::allocate(size_t bytes) {
  size_t rounded = std::max<size_t>(64, (bytes + 63) / 64 * 64);
  mem = std::shared_ptr<void>(std::aligned_alloc(64, rounded), [](void* p) { std::free(p); });
}

Status DnnlKernel::configure(const std::vector<memory::desc>& in,
                             const std::vector<bool>& blocked_ok) {
  try {
    build(in, blocked_ok);
  } catch (const dnnl::error& e) {
    return HQ_ERROR(kInternal, "{}: oneDNN could not build the kernel: {}", name(), e.what());
  }
  configured_ = true;
  return Status::ok();
}

Status DnnlKernel::run(const KernelCall& call) {
  if (!configured_) {
    std::vector<memory::desc> in;
    for (size_t i = 0; i < call.inputs.size(); ++i) {
      in.push_back(call.has(i) && call.in(i).dtype() == DType::kFloat32
                       ? plainDesc(call.in(i).shape())
                       : memory::desc());
    }
    HQ_RETURN_IF_ERROR(configure(in, std::vector<bool>(call.outputs.size(), false)));
  }
  try {
    execute(call);
  } catch (const dnnl::error& e) {
    return call.error(ErrorCode::kInternal, "oneDNN kernel {} failed: {}", name(), e.what());
  }
  cpuStream().wait();
  return Status::ok();
}

}  // namespace hq::dnnl_rt
