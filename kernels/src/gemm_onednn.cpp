// oneDNN's matmul for 16-bit products: operands stay in 16 bits (no widened float32 copies), the
// products accumulate in float32 on whatever 16-bit matrix instructions this CPU has, chosen by
// oneDNN at run time. A primitive is built once per shape and dtype and kept; a shape for which
// oneDNN would fall back to its reference implementation is remembered as unsupported, and the
// caller widens to float32 and OpenBLAS instead.
#include "gemm_onednn.h"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "mlu_kernels/build_info.h"
#include "onednn_common.h"

namespace mlu::kernels {
namespace {

using dnnl::memory;

// Products this large use every kernel thread (oneDNN's own split); smaller ones one thread.
constexpr double kParallelMultiplyAdds = 1 << 21;
// Below this, oneDNN's per-call cost exceeds what 16-bit arithmetic saves (a 64 x 64 float16
// product ran 5x slower than widened to float32 on a Xeon with AVX512-FP16).
constexpr double kMinMultiplyAdds = 1 << 20;

memory::desc strided_desc(const TensorDesc& d, memory::data_type type) {
  return memory::desc(memory::dims(d.sizes.begin(), d.sizes.begin() + d.ndim), type,
                      memory::dims(d.strides.begin(), d.strides.begin() + d.ndim));
}

// A bias row [n] (or [1, n]) as oneDNN's broadcastable [1, n] or [1, 1, n].
memory::desc bias_desc(const TensorDesc& bias, int ndim, memory::data_type type) {
  const std::int64_t n = bias.sizes[bias.ndim - 1], step = bias.strides[bias.ndim - 1];
  memory::dims dims(ndim, 1), strides(ndim, n * step);
  dims.back() = n;
  strides.back() = step;
  return memory::desc(dims, type, strides);
}

struct MatmulPlan {
  std::optional<dnnl::matmul> primitive;  // none: only the reference implementation exists
  memory::desc a, b, out, bias, scratchpad;
};

using Key = std::vector<std::int64_t>;

void append(Key& key, const TensorDesc& d) {
  key.push_back(d.ndim);
  key.insert(key.end(), d.sizes.begin(), d.sizes.begin() + d.ndim);
  key.insert(key.end(), d.strides.begin(), d.strides.begin() + d.ndim);
}

std::shared_ptr<const MatmulPlan> make_plan(const TensorDesc& out, const TensorDesc& a,
                                            const TensorDesc& b, const TensorDesc* bias) {
  const auto type = out.dtype == DType::BFloat16 ? memory::data_type::bf16 : memory::data_type::f16;
  auto plan = std::make_shared<MatmulPlan>();
  plan->a = strided_desc(a, type);
  plan->b = strided_desc(b, type);
  plan->out = strided_desc(out, type);
  if (bias != nullptr) plan->bias = bias_desc(*bias, out.ndim, type);
  try {
    const dnnl::primitive_attr attr = with_user_scratchpad();
    const auto pd =
        bias != nullptr
            ? dnnl::matmul::primitive_desc(onednn_engine(), plan->a, plan->b, plan->bias, plan->out,
                                           attr)
            : dnnl::matmul::primitive_desc(onednn_engine(), plan->a, plan->b, plan->out, attr);
    if (std::string(pd.impl_info_str()).find("ref") == std::string::npos) {
      plan->primitive.emplace(pd);
      plan->scratchpad = pd.scratchpad_desc();
    }
  } catch (const dnnl::error&) {
    // unsupported strides or dtypes: the caller's float32 path
  }
  return plan;
}

LruCache<Key, MatmulPlan>& plans() {
  static LruCache<Key, MatmulPlan> cache;
  return cache;
}

}  // namespace

bool onednn_gemm16(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b,
                   const TensorDesc* bias) {
  const double multiply_adds = static_cast<double>(out.numel()) * a.sizes[a.ndim - 1];
  if (multiply_adds < kMinMultiplyAdds) return false;
  Key key{static_cast<std::int64_t>(out.dtype), bias != nullptr};
  for (const TensorDesc* d : {&out, &a, &b}) append(key, *d);
  if (bias != nullptr) append(key, *bias);
  // The team is sized before a plan is made: oneDNN sizes a primitive's scratchpad for the
  // threads it has when made, and the plan runs with the same team (its key holds the shapes).
  size_onednn_team(multiply_adds, kParallelMultiplyAdds);
  const auto plan = plans().get(key, [&] { return make_plan(out, a, b, bias); });
  if (!plan->primitive) return false;
  try {
    const dnnl::engine& e = onednn_engine();
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(plan->a, e, a.data)},
                                         {DNNL_ARG_WEIGHTS, memory(plan->b, e, b.data)},
                                         {DNNL_ARG_DST, memory(plan->out, e, out.data)}};
    if (bias != nullptr) args.emplace(DNNL_ARG_BIAS, memory(plan->bias, e, bias->data));
    add_scratchpad(args, plan->scratchpad);
    plan->primitive->execute(onednn_stream(), args);
    onednn_stream().wait();
  } catch (const dnnl::error& error) {
    throw KernelError(std::string("oneDNN matmul failed: ") + error.what());
  }
  return true;
}

std::string gemm16_path(bool bfloat16) {
  TensorDesc d;
  d.dtype = bfloat16 ? DType::BFloat16 : DType::Float16;
  d.ndim = 2;
  d.sizes[0] = d.sizes[1] = 128;
  d.strides[0] = 128;
  d.strides[1] = 1;
  d.data = nullptr;
  return make_plan(d, d, d, nullptr)->primitive ? "oneDNN" : "float32";
}

}  // namespace mlu::kernels
