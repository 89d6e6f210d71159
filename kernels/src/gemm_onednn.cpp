// oneDNN's matmul for 16-bit products: operands stay in 16 bits (no widened float32 copies), the
// products accumulate in float32 on whatever 16-bit matrix instructions this CPU has, chosen by
// oneDNN at run time. A primitive is built once per shape and dtype and kept; a shape for which
// oneDNN would fall back to its reference implementation is remembered as unsupported, and the
// caller widens to float32 and OpenBLAS instead.
//
// Float32 products use oneDNN's brgemm kernels where this CPU has them (AVX-512): one thread per
// call, on slices the caller splits across the kernel threads.
#include "gemm_onednn.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "mlu_kernels/build_info.h"
#include "mlu_kernels/parallel.h"
#include "onednn_common.h"

namespace mlu::kernels {

struct MatmulPlan {
  std::optional<dnnl::matmul> primitive;  // none: oneDNN has no kernel for it worth using
  dnnl::memory::desc a, b, out, bias, scratchpad;
};

namespace {

using dnnl::memory;

// Below this, oneDNN's per-call cost exceeds what 16-bit arithmetic saves (a 64 x 64 float16
// product ran 5x slower than widened to float32 on a Xeon with AVX512-FP16).
constexpr double kMinMultiplyAdds = 1 << 20;
// In float32, one thread, on AMD Zen 4: from here up brgemm beats OpenBLAS's sgemm by 10-25%
// (16 x 256 x 128: 13 against 17 us; 512 x 128 x 512: 590 against 660 us); below, its cost per
// call (about 1 us) wins (64 x 64 x 64: 5.5 against 4.6 us).
constexpr double kMinFloat32MultiplyAdds = 1 << 18;

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

// Keeps pd's primitive in the plan when `use`.
void keep_if(MatmulPlan& plan, const dnnl::matmul::primitive_desc& pd, bool use) {
  if (!use) return;
  plan.primitive.emplace(pd);
  plan.scratchpad = pd.scratchpad_desc();
}

// Runs the plan's primitive on the calling thread's stream and waits for it.
void execute(const MatmulPlan& plan, const void* a, const void* b, void* out, const void* bias) {
  try {
    const dnnl::engine& e = onednn_engine();
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(plan.a, e, const_cast<void*>(a))},
        {DNNL_ARG_WEIGHTS, memory(plan.b, e, const_cast<void*>(b))},
        {DNNL_ARG_DST, memory(plan.out, e, out)}};
    if (bias != nullptr) args.emplace(DNNL_ARG_BIAS, memory(plan.bias, e, const_cast<void*>(bias)));
    add_scratchpad(args, plan.scratchpad);
    plan.primitive->execute(onednn_stream(), args);
    onednn_stream().wait();
  } catch (const dnnl::error& error) {
    throw KernelError(std::string("oneDNN matmul failed: ") + error.what());
  }
}

using Key = std::vector<std::int64_t>;

void append(Key& key, const TensorDesc& d) {
  key.push_back(d.ndim);
  key.insert(key.end(), d.sizes.begin(), d.sizes.begin() + d.ndim);
  key.insert(key.end(), d.strides.begin(), d.strides.begin() + d.ndim);
}

memory::data_type onednn_type(DType dtype) {
  if (dtype == DType::BFloat16) return memory::data_type::bf16;
  return dtype == DType::Float16 ? memory::data_type::f16 : memory::data_type::f32;
}

// A plan for out = a @ b (+ bias) (+ out when accumulate), the bias of out's dtype. A float32 out
// from 16-bit operands is kept only on AMX: elsewhere oneDNN's mixed kernels are not known to beat
// float32 products.
std::shared_ptr<const MatmulPlan> make_plan(const TensorDesc& out, const TensorDesc& a,
                                            const TensorDesc& b, const TensorDesc* bias,
                                            bool accumulate) {
  auto plan = std::make_shared<MatmulPlan>();
  plan->a = strided_desc(a, onednn_type(a.dtype));
  plan->b = strided_desc(b, onednn_type(b.dtype));
  plan->out = strided_desc(out, onednn_type(out.dtype));
  if (bias != nullptr) plan->bias = bias_desc(*bias, out.ndim, onednn_type(out.dtype));
  try {
    dnnl::primitive_attr attr = with_user_scratchpad();
    if (accumulate) {
      dnnl::post_ops sum;
      sum.append_sum();
      attr.set_post_ops(sum);
    }
    const auto pd =
        bias != nullptr
            ? dnnl::matmul::primitive_desc(onednn_engine(), plan->a, plan->b, plan->bias, plan->out,
                                           attr)
            : dnnl::matmul::primitive_desc(onednn_engine(), plan->a, plan->b, plan->out, attr);
    const std::string impl = pd.impl_info_str();
    const bool amx_required = out.dtype == DType::Float32;
    keep_if(*plan, pd,
            impl.find("ref") == std::string::npos &&
                (!amx_required || impl.find("amx") != std::string::npos));
  } catch (const dnnl::error&) {
    // unsupported strides or dtypes: the caller's float32 path
  }
  return plan;
}

LruCache<Key, MatmulPlan>& plans() {
  static LruCache<Key, MatmulPlan> cache;
  return cache;
}

// d with dimension dim narrowed to [begin, begin + count).
TensorDesc narrowed(const TensorDesc& d, int dim, std::int64_t begin, std::int64_t count) {
  TensorDesc slice = d;
  slice.data = static_cast<char*>(d.data) +
               begin * d.strides[dim] * static_cast<std::int64_t>(element_size(d.dtype));
  slice.sizes[dim] = count;
  return slice;
}

// One thread's part of a 16-bit product and its plan, made for a team of one.
struct Slice16 {
  TensorDesc out, a, b, bias;
  std::shared_ptr<const MatmulPlan> plan;
};

std::shared_ptr<const MatmulPlan> plan16(const TensorDesc& out, const TensorDesc& a,
                                         const TensorDesc& b, const TensorDesc* bias,
                                         bool accumulate) {
  // The operands' dtype first: never Float32, unlike the float32 plans' keys (one cache holds
  // both).
  Key key{static_cast<std::int64_t>(a.dtype), static_cast<std::int64_t>(out.dtype), bias != nullptr,
          accumulate};
  for (const TensorDesc* d : {&out, &a, &b}) append(key, *d);
  if (bias != nullptr) append(key, *bias);
  // oneDNN sizes a primitive's scratchpad for the team it has when made; every 16-bit plan is
  // made and run with a team of one.
  omp_set_num_threads(1);
  return plans().get(key, [&] { return make_plan(out, a, b, bias, accumulate); });
}

// Split across the kernel threads as the float32 products are (by batch, else along the longer
// side), each slice on one thread: an OpenMP team of two left its second thread spinning after
// every product, taking a core from the kernels that follow (a 16-bit step's casts and
// elementwise kernels ran 2-5x slower than alone).
bool run_sliced(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b,
                const TensorDesc* bias, bool accumulate) {
  const double multiply_adds = static_cast<double>(out.numel()) * a.sizes[a.ndim - 1];
  const int r = out.ndim - 2, c = out.ndim - 1;
  const std::int64_t threads = gemm_threads(multiply_adds);
  const bool by_batch = out.ndim == 3 && out.sizes[0] >= threads;
  const int dim = by_batch ? 0 : out.sizes[r] >= out.sizes[c] ? r : c;
  const std::int64_t slices = by_batch ? threads : gemm_slices(out.sizes[dim], threads);
  std::vector<Slice16> parts;
  parts.reserve(static_cast<std::size_t>(slices));
  const std::int64_t side = out.sizes[dim];
  for (std::int64_t s = 0; s < slices; ++s) {
    const std::int64_t begin = side * s / slices, count = side * (s + 1) / slices - begin;
    Slice16 part{narrowed(out, dim, begin, count), a, b, bias != nullptr ? *bias : TensorDesc{},
                 nullptr};
    if (by_batch || dim == r) part.a = narrowed(a, dim, begin, count);
    if (by_batch || dim == c) part.b = narrowed(b, dim, begin, count);
    // A bias of one value broadcast over the row stays whole.
    if (!by_batch && dim == c && bias != nullptr && bias->sizes[bias->ndim - 1] == out.sizes[c])
      part.bias = narrowed(*bias, bias->ndim - 1, begin, count);
    // Every plan before any slice runs: a shape oneDNN cannot do leaves the product undone.
    part.plan =
        plan16(part.out, part.a, part.b, bias != nullptr ? &part.bias : nullptr, accumulate);
    if (!part.plan->primitive) return false;
    parts.push_back(std::move(part));
  }
  parallel_for(slices, 1, [&](std::int64_t first, std::int64_t last) {
    omp_set_num_threads(1);
    for (std::int64_t s = first; s < last; ++s) {
      const Slice16& part = parts[static_cast<std::size_t>(s)];
      execute(*part.plan, part.a.data, part.b.data, part.out.data,
              bias != nullptr ? part.bias.data : nullptr);
    }
  });
  return true;
}

}  // namespace

bool onednn_gemm16(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b,
                   const TensorDesc* bias) {
  const double multiply_adds = static_cast<double>(out.numel()) * a.sizes[a.ndim - 1];
  return multiply_adds >= kMinMultiplyAdds && run_sliced(out, a, b, bias, false);
}

bool amx_product(const TensorDesc& out, const TensorDesc& a, const TensorDesc& b, bool accumulate) {
  return run_sliced(out, a, b, nullptr, accumulate);
}

std::unique_ptr<AmxStepProduct> AmxStepProduct::make(const TensorDesc& out, const TensorDesc& a,
                                                     const TensorDesc& b, bool accumulate) {
  omp_set_num_threads(1);  // made and run with a team of one, as every 16-bit plan
  std::shared_ptr<const MatmulPlan> plan = plan16(out, a, b, nullptr, accumulate);
  if (!plan->primitive) return nullptr;
  return std::unique_ptr<AmxStepProduct>(new AmxStepProduct(std::move(plan)));
}

AmxStepProduct::AmxStepProduct(std::shared_ptr<const MatmulPlan> plan)
    : plan_(std::move(plan)), scratchpad_(plan_->scratchpad.get_size() + kScratchpadAlignment) {
  const dnnl::engine& e = onednn_engine();
  args_ = {{DNNL_ARG_SRC, memory(plan_->a, e, nullptr)},
           {DNNL_ARG_WEIGHTS, memory(plan_->b, e, nullptr)},
           {DNNL_ARG_DST, memory(plan_->out, e, nullptr)}};
  if (plan_->scratchpad.get_size() > 0) {
    const auto base = reinterpret_cast<std::uintptr_t>(scratchpad_.data());
    void* aligned =
        reinterpret_cast<void*>((base + kScratchpadAlignment - 1) & ~(kScratchpadAlignment - 1));
    args_.emplace(DNNL_ARG_SCRATCHPAD, memory(plan_->scratchpad, e, aligned));
  }
}

AmxStepProduct::~AmxStepProduct() = default;

void AmxStepProduct::run(void* out, const void* a, const void* b) {
  try {
    omp_set_num_threads(1);
    args_.at(DNNL_ARG_SRC).set_data_handle(const_cast<void*>(a));
    args_.at(DNNL_ARG_WEIGHTS).set_data_handle(const_cast<void*>(b));
    args_.at(DNNL_ARG_DST).set_data_handle(out);
    plan_->primitive->execute(onednn_stream(), args_);
    onednn_stream().wait();
  } catch (const dnnl::error& error) {
    throw KernelError(std::string("oneDNN matmul failed: ") + error.what());
  }
}

namespace {

memory::desc matrix_desc(std::int64_t rows, std::int64_t cols, std::int64_t ld, bool transposed) {
  return memory::desc({rows, cols}, memory::data_type::f32,
                      transposed ? memory::dims{1, ld} : memory::dims{ld, 1});
}

// key: {Float32, m, n, k, a transposed, lda, b transposed, ldb, ldc} (the dtype first, as the
// 16-bit plans' keys: one cache holds both).
std::shared_ptr<const MatmulPlan> make_float32_plan(const Key& key) {
  const auto [m, n, k, a_transposed, lda, b_transposed, ldb, ldc] =
      std::array<std::int64_t, 8>{key[1], key[2], key[3], key[4], key[5], key[6], key[7], key[8]};
  auto plan = std::make_shared<MatmulPlan>();
  plan->a = matrix_desc(m, k, lda, a_transposed != 0);
  plan->b = matrix_desc(k, n, ldb, b_transposed != 0);
  plan->out = matrix_desc(m, n, ldc, false);
  try {
    const dnnl::matmul::primitive_desc pd(onednn_engine(), plan->a, plan->b, plan->out,
                                          with_user_scratchpad());
    // oneDNN 3.12 added AVX2 brgemm float32 kernels: on Zen 3 they were no faster than OpenBLAS
    // (512 x 128 x 128: 250 against 170 us; 2048 x 512 x 512: 8.3 against 10 ms), so only the
    // AVX-512 (and AMX, AVX10) ones are taken.
    const std::string impl = pd.impl_info_str();
    keep_if(*plan, pd,
            impl.starts_with("brg") && (impl.find("avx512") != std::string::npos ||
                                        impl.find("avx10") != std::string::npos));
  } catch (const dnnl::error&) {
    // unsupported strides: OpenBLAS
  }
  return plan;
}

}  // namespace

bool onednn_sgemm(const Matrix& ma, const Matrix& mb, std::int64_t m, std::int64_t n,
                  std::int64_t k, const float* a, const float* b, float* c, std::int64_t ldc) {
  if (static_cast<double>(m) * n * k < kMinFloat32MultiplyAdds) return false;
  const auto float32 = static_cast<std::int64_t>(DType::Float32);
  const Key key{float32, m, n, k, ma.transposed, ma.ld, mb.transposed, mb.ld, ldc};
  omp_set_num_threads(1);  // before the plan: its scratchpad is sized for the team
  const auto plan = plans().get(key, [&] { return make_float32_plan(key); });
  if (!plan->primitive) return false;
  execute(*plan, a, b, c, nullptr);
  return true;
}

std::string gemm32_path() {
  const Key example{static_cast<std::int64_t>(DType::Float32), 512, 128, 128, 0, 128, 0, 128, 128};
  std::lock_guard build(onednn_build_mutex());
  return make_float32_plan(example)->primitive ? "oneDNN" : "OpenBLAS";
}

std::string gemm16_path(bool bfloat16) {
  TensorDesc d;
  d.dtype = bfloat16 ? DType::BFloat16 : DType::Float16;
  d.ndim = 2;
  d.sizes[0] = d.sizes[1] = 128;
  d.strides[0] = 128;
  d.strides[1] = 1;
  d.data = nullptr;
  std::lock_guard build(onednn_build_mutex());
  return make_plan(d, d, d, nullptr, false)->primitive ? "oneDNN" : "float32";
}

bool amx_products(DType dtype) {
  // Asked at every LSTM layer's launch: planned once per dtype (the CPU does not change).
  auto planned = [](DType type) {
    TensorDesc operand;
    operand.dtype = type;
    operand.ndim = 2;
    operand.sizes[0] = operand.sizes[1] = 64;
    operand.strides[0] = 64;
    operand.strides[1] = 1;
    TensorDesc out = operand;
    out.dtype = DType::Float32;
    std::lock_guard build(onednn_build_mutex());
    return make_plan(out, operand, operand, nullptr, true)->primitive.has_value();
  };
  static const bool bfloat16 = planned(DType::BFloat16), float16 = planned(DType::Float16);
  return dtype == DType::BFloat16 ? bfloat16 : dtype == DType::Float16 && float16;
}

}  // namespace mlu::kernels
