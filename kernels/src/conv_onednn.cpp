// Direct convolutions through oneDNN. oneDNN picks its own (blocked) layouts for each primitive;
// operands are reordered from and to the caller's strides. 16-bit operands stay 16-bit inside
// when MLU_CONV16's policy says so for the layer; otherwise they widen to float32, inside oneDNN's
// reorders where those are vectorised (bfloat16 with AVX-512) and by the library's own
// conversions elsewhere (oneDNN converts one element at a time). Primitives and reorders are
// built once per shape and kept in a small LRU cache, so the repeated steps of a training loop
// only execute.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "conv_internal.h"
#include "mlu_kernels/conv.h"
#include "onednn_common.h"

namespace mlu::kernels {
namespace {

using dnnl::memory;

memory::data_type onednn_type(DType dtype) {
  switch (dtype) {
    case DType::Float32: return memory::data_type::f32;
    case DType::Float16: return memory::data_type::f16;
    case DType::BFloat16: return memory::data_type::bf16;
    default:
      throw KernelError(std::string("oneDNN convolution: unsupported dtype ") + dtype_name(dtype));
  }
}

// The caller's layout of an activation.
memory::desc user_desc(const TensorDesc& d) {
  memory::dims dims(d.sizes.begin(), d.sizes.begin() + d.ndim);
  memory::dims strides(d.strides.begin(), d.strides.begin() + d.ndim);
  return memory::desc(dims, onednn_type(d.dtype), strides);
}

// Weights with groups are [G, C_y / G, C_x / G, *k] to oneDNN: a split of PyTorch's first dim.
memory::dims weight_dims(const TensorDesc& w, std::int64_t groups) {
  memory::dims dims(w.sizes.begin(), w.sizes.begin() + w.ndim);
  if (groups > 1) {
    dims[0] /= groups;
    dims.insert(dims.begin(), groups);
  }
  return dims;
}

memory::desc user_weight_desc(const TensorDesc& w, std::int64_t groups) {
  memory::dims strides(w.strides.begin(), w.strides.begin() + w.ndim);
  if (groups > 1) strides.insert(strides.begin(), strides[0] * (w.sizes[0] / groups));
  return memory::desc(weight_dims(w, groups), onednn_type(w.dtype), strides);
}

memory::desc any_desc(memory::dims dims, memory::data_type type) {
  return memory::desc(dims, type, memory::format_tag::any);
}

memory::dims activation_dims(const TensorDesc& d) {
  return memory::dims(d.sizes.begin(), d.sizes.begin() + d.ndim);
}

// One argument of a primitive: where it lives for the caller and for oneDNN, and the reorder
// between the two when they differ.
struct Operand {
  int arg;
  memory::desc user;
  memory::desc internal;
  std::optional<dnnl::reorder> convert;
  memory::desc convert_scratchpad;
  bool written;
  bool scalar_convert;  // oneDNN has only its element-by-element reorder for it on this CPU
};

struct Plan {
  std::optional<dnnl::primitive> primitive;  // none: a 16-bit convolution widened to float32
  std::string implementation;                // oneDNN's name for the primitive's kernel
  memory::desc scratchpad;
  std::vector<Operand> operands;
};

enum class Conv16 { Auto, Native, Float32 };

Conv16 conv16_policy() {
  static const Conv16 policy = [] {
    try {
      const std::string name = conv16_policy_from_environment();
      return name == "native" ? Conv16::Native : name == "float32" ? Conv16::Float32 : Conv16::Auto;
    } catch (const std::invalid_argument&) {
      return Conv16::Auto;  // csrc reports the bad value as a ValueError at first device use
    }
  }();
  return policy;
}

Operand make_operand(int arg, const memory::desc& user, const memory::desc& internal,
                     bool written) {
  Operand op{arg, user, internal, std::nullopt, {}, written, false};
  if (user != internal) {
    const dnnl::engine& e = onednn_engine();
    const auto pd =
        written ? dnnl::reorder::primitive_desc(e, internal, e, user, with_user_scratchpad())
                : dnnl::reorder::primitive_desc(e, user, e, internal, with_user_scratchpad());
    op.convert = dnnl::reorder(pd);
    op.convert_scratchpad = pd.scratchpad_desc();
    op.scalar_convert = std::string(pd.impl_info_str()).starts_with("simple");
  }
  return op;
}

// The plan with `type` inside oneDNN.
std::shared_ptr<Plan> make_plan(ConvPass pass, const DirectConv& c, const TensorDesc& x,
                                const TensorDesc& w, const TensorDesc& y, const TensorDesc* bias,
                                memory::data_type type) {
  const dnnl::engine& e = onednn_engine();
  const int n = c.spatial_dims;
  const memory::dims stride(c.stride.begin(), c.stride.begin() + n);
  const memory::dims pad_before(c.pad_before.begin(), c.pad_before.begin() + n);
  const memory::dims pad_after(c.pad_after.begin(), c.pad_after.begin() + n);
  memory::dims dilation(c.dilation.begin(), c.dilation.begin() + n);
  for (auto& d : dilation) d -= 1;  // oneDNN counts the skipped elements

  const memory::desc x_any = any_desc(activation_dims(x), type),
                     y_any = any_desc(activation_dims(y), type),
                     w_any = any_desc(weight_dims(w, c.groups), type);
  const auto algorithm = dnnl::algorithm::convolution_direct;
  const auto forward_kind = dnnl::prop_kind::forward_training;
  const memory::desc x_user = user_desc(x), y_user = user_desc(y),
                     w_user = user_weight_desc(w, c.groups);

  auto plan = std::make_shared<Plan>();
  if (pass == ConvPass::Forward) {
    dnnl::primitive_attr attr = with_user_scratchpad();
    if (c.relu) {
      dnnl::post_ops post;
      post.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(post);
    }
    const auto pd =
        bias != nullptr
            ? dnnl::convolution_forward::primitive_desc(
                  e, forward_kind, algorithm, x_any, w_any,
                  memory::desc({y.sizes[1]}, memory::data_type::f32, memory::format_tag::a), y_any,
                  stride, dilation, pad_before, pad_after, attr)
            : dnnl::convolution_forward::primitive_desc(e, forward_kind, algorithm, x_any, w_any,
                                                        y_any, stride, dilation, pad_before,
                                                        pad_after, attr);
    plan->primitive = dnnl::convolution_forward(pd);
    plan->implementation = pd.impl_info_str();
    plan->scratchpad = pd.scratchpad_desc();
    plan->operands = {make_operand(DNNL_ARG_SRC, x_user, pd.src_desc(), false),
                      make_operand(DNNL_ARG_WEIGHTS, w_user, pd.weights_desc(), false),
                      make_operand(DNNL_ARG_DST, y_user, pd.dst_desc(), true)};
    if (bias != nullptr) {
      plan->operands.push_back(
          make_operand(DNNL_ARG_BIAS, user_desc(*bias), pd.bias_desc(), false));
    }
    return plan;
  }
  const dnnl::convolution_forward::primitive_desc hint(
      e, forward_kind, algorithm, x_any, w_any, y_any, stride, dilation, pad_before, pad_after);
  if (pass == ConvPass::BackwardData) {
    const dnnl::convolution_backward_data::primitive_desc pd(
        e, algorithm, x_any, w_any, y_any, stride, dilation, pad_before, pad_after, hint,
        with_user_scratchpad());
    plan->primitive = dnnl::convolution_backward_data(pd);
    plan->implementation = pd.impl_info_str();
    plan->scratchpad = pd.scratchpad_desc();
    plan->operands = {make_operand(DNNL_ARG_DIFF_DST, y_user, pd.diff_dst_desc(), false),
                      make_operand(DNNL_ARG_WEIGHTS, w_user, pd.weights_desc(), false),
                      make_operand(DNNL_ARG_DIFF_SRC, x_user, pd.diff_src_desc(), true)};
  } else {
    const dnnl::convolution_backward_weights::primitive_desc pd(
        e, algorithm, x_any, w_any, y_any, stride, dilation, pad_before, pad_after, hint,
        with_user_scratchpad());
    plan->primitive = dnnl::convolution_backward_weights(pd);
    plan->implementation = pd.impl_info_str();
    plan->scratchpad = pd.scratchpad_desc();
    plan->operands = {make_operand(DNNL_ARG_SRC, x_user, pd.src_desc(), false),
                      make_operand(DNNL_ARG_DIFF_DST, y_user, pd.diff_dst_desc(), false),
                      make_operand(DNNL_ARG_DIFF_WEIGHTS, w_user, pd.diff_weights_desc(), true)};
  }
  return plan;
}

using PlanKey = std::vector<std::int64_t>;

void append(PlanKey& key, const TensorDesc& d) {
  key.push_back(static_cast<std::int64_t>(d.dtype));
  key.push_back(d.ndim);
  key.insert(key.end(), d.sizes.begin(), d.sizes.begin() + d.ndim);
  key.insert(key.end(), d.strides.begin(), d.strides.begin() + d.ndim);
}

PlanKey plan_key(ConvPass pass, const DirectConv& c, const TensorDesc& x, const TensorDesc& w,
                 const TensorDesc& y, const TensorDesc* bias) {
  PlanKey key{static_cast<std::int64_t>(pass), c.spatial_dims, c.groups, bias != nullptr, c.relu};
  for (const auto* a : {&c.stride, &c.dilation, &c.pad_before, &c.pad_after}) {
    key.insert(key.end(), a->begin(), a->end());
  }
  for (const TensorDesc* d : {&x, &w, &y}) append(key, *d);
  if (bias != nullptr) append(key, *bias);
  return key;
}

using PlanCache = LruCache<PlanKey, Plan>;

PlanCache& plan_cache() {
  static PlanCache cache;
  return cache;
}

// Small convolutions run on the calling thread alone (an LSTM after a convolutional front end ran
// 25% slower with a second, spinning OpenMP thread). The size follows from the shapes, which the
// plan key holds, so a plan always runs with the team it was made for.
constexpr double kParallelMultiplyAdds = 1 << 25;

void size_team(const TensorDesc& w, const TensorDesc& y) {
  const double multiply_adds = static_cast<double>(y.numel()) * (w.numel() / w.sizes[0]);
  size_onednn_team(multiply_adds, kParallelMultiplyAdds);
}

void convert(dnnl::stream& stream, const Operand& op, const memory& from, const memory& to) {
  std::unordered_map<int, memory> args{{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
  add_scratchpad(args, op.convert_scratchpad);
  op.convert->execute(stream, args);
}

void execute(const Plan& plan, const std::vector<void*>& data) {
  dnnl::stream& stream = onednn_stream();
  const dnnl::engine& e = onednn_engine();
  std::unordered_map<int, memory> args;
  std::vector<std::pair<memory, memory>> results;  // (internal, user) reordered after the primitive
  for (std::size_t i = 0; i < plan.operands.size(); ++i) {
    const Operand& op = plan.operands[i];
    memory user(op.user, e, data[i]);
    if (!op.convert) {
      args.emplace(op.arg, user);
      continue;
    }
    memory internal(op.internal, e);
    if (op.written) {
      results.emplace_back(internal, user);
    } else {
      convert(stream, op, user, internal);
    }
    args.emplace(op.arg, internal);
  }
  add_scratchpad(args, plan.scratchpad);
  plan.primitive->execute(stream, args);
  std::size_t r = 0;
  for (const Operand& op : plan.operands) {
    if (op.written && op.convert) {
      convert(stream, op, results[r].first, results[r].second);
      ++r;
    }
  }
  stream.wait();
}

// Runs `plan` on the caller's operands.
void run(const Plan& plan, ConvPass pass, const DirectConv& conv, const TensorDesc& x,
         const TensorDesc& w, const TensorDesc& y, const TensorDesc* bias) {
  if (!plan.primitive)
    return convolution_on_float32_copies(onednn_convolution, pass, conv, x, w, y, bias);
  std::vector<void*> data;
  switch (pass) {
    case ConvPass::Forward: data = {x.data, w.data, y.data}; break;
    case ConvPass::BackwardData: data = {y.data, w.data, x.data}; break;
    case ConvPass::BackwardWeights: data = {x.data, y.data, w.data}; break;
  }
  if (bias != nullptr) data.push_back(bias->data);
  execute(plan, data);
}

// make_plan in x's 16-bit type; null where oneDNN has only its reference implementation for that
// type on this CPU, or none (float16 without AVX512-FP16 or AMX, as on AMD Zen 4).
std::shared_ptr<Plan> plan_in_16_bits(ConvPass pass, const DirectConv& c, const TensorDesc& x,
                                      const TensorDesc& w, const TensorDesc& y,
                                      const TensorDesc* bias) {
  try {
    auto plan = make_plan(pass, c, x, w, y, bias, onednn_type(x.dtype));
    return plan->implementation.find("ref") == std::string::npos ? plan : nullptr;
  } catch (const dnnl::error& e) {
    if (e.status != dnnl_unimplemented) throw;
    return nullptr;
  }
}

// The shorter of two runs, after one that builds and warms what the run needs.
double seconds_per_run(const std::function<void()>& run) {
  run();
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < 2; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// Plans made for 16-bit convolutions: [bfloat16][kept in 16 bits].
std::atomic<std::int64_t> plans_made[2][2];

// What "auto"'s timing decides for: a layer's configuration, whatever the batch and image sizes
// (and so the padding that reaches the end of the image) and the operands' strides, so that
// inputs of changing sizes (detection, the last batch of an epoch) do not time each new shape.
PlanKey decision_key(ConvPass pass, const DirectConv& c, const TensorDesc& x, const TensorDesc& w,
                     const TensorDesc* bias) {
  const auto dtype = static_cast<std::int64_t>(x.dtype);
  PlanKey key{
      static_cast<std::int64_t>(pass), dtype, c.spatial_dims, c.groups, bias != nullptr, c.relu};
  for (const auto* a : {&c.stride, &c.dilation, &c.pad_before}) {
    key.insert(key.end(), a->begin(), a->end());
  }
  key.insert(key.end(), w.sizes.begin(), w.sizes.begin() + w.ndim);
  return key;
}

// "auto"'s timed decisions (whether a layer stays 16-bit), kept past the plan cache's evictions
// so that a rebuilt plan is not timed again.
class Decisions {
 public:
  std::optional<bool> find(const PlanKey& key) {
    std::lock_guard lock(mutex_);
    const auto it = kept_.find(key);
    return it == kept_.end() ? std::nullopt : std::optional<bool>(it->second);
  }
  void keep(const PlanKey& key, bool in_16_bits) {
    std::lock_guard lock(mutex_);
    kept_.insert_or_assign(key, in_16_bits);
  }

 private:
  std::mutex mutex_;
  std::map<PlanKey, bool> kept_;
};

Decisions& decisions() {
  static Decisions kept;
  return kept;
}

// A 16-bit convolution's plan under MLU_CONV16's policy. oneDNN's 16-bit kernels are faster than
// widening for some layers and CPUs and slower for others (bfloat16, ResNet-18 layers: 1.3-1.8x
// faster than float32 on AMD Zen 4, 1.5-1.8x slower on a Xeon without AMX; on AMX, 2x faster for
// 64 channels at 32 x 32 but 2-3x slower for 512 channels at 1 x 1, where moving the weights is
// the work), so "auto" times both on the first call's operands and keeps the faster one for the
// layer (decision_key). The passes only write their output, so the timed runs leave the same
// result as one run.
std::shared_ptr<const Plan> plan_16_bit_convolution(ConvPass pass, const DirectConv& conv,
                                                    const TensorDesc& x, const TensorDesc& w,
                                                    const TensorDesc& y, const TensorDesc* bias) {
  // bfloat16 widens inside oneDNN's reorders where they are vectorised (AVX-512); elsewhere they
  // convert one element at a time (AMD Zen 3: 14 ms for a 16 x 64 x 16 x 16 activation, 50x the
  // convolution), as float16's do without AVX512-FP16, so the library's conversions widen.
  auto make_widened = [&] {
    if (x.dtype == DType::Float16) return std::make_shared<Plan>();
    auto plan = make_plan(pass, conv, x, w, y, bias, memory::data_type::f32);
    const bool scalar = std::ranges::any_of(plan->operands, &Operand::scalar_convert);
    return scalar ? std::make_shared<Plan>() : plan;
  };
  auto seconds_of = [&](const Plan& plan) {
    return seconds_per_run([&] { run(plan, pass, conv, x, w, y, bias); });
  };
  // The float32 policy does not build the 16-bit primitive it would discard.
  std::shared_ptr<Plan> in_16_bits, widened;
  if (conv16_policy() != Conv16::Float32) in_16_bits = plan_in_16_bits(pass, conv, x, w, y, bias);
  if (in_16_bits && conv16_policy() == Conv16::Auto) {
    const PlanKey key = decision_key(pass, conv, x, w, bias);
    std::optional<bool> keep = decisions().find(key);
    if (!keep) {
      widened = make_widened();
      keep = seconds_of(*in_16_bits) <= seconds_of(*widened);
      decisions().keep(key, *keep);
    }
    if (!*keep) in_16_bits = nullptr;
  }
  ++plans_made[x.dtype == DType::BFloat16][in_16_bits != nullptr];
  if (in_16_bits) return in_16_bits;
  return widened ? widened : make_widened();
}

}  // namespace

std::string conv16_policy_from_environment() {
  const char* env = std::getenv("MLU_CONV16");
  if (env == nullptr) return "auto";
  const std::string value = env;
  if (value == "auto" || value == "native" || value == "float32") return value;
  throw std::invalid_argument("MLU_CONV16 must be auto, native or float32, got '" + value + "'");
}

Conv16Plans conv16_plans() {
  return {plans_made[1][1].load(), plans_made[1][0].load(), plans_made[0][1].load(),
          plans_made[0][0].load()};
}

void onednn_convolution(ConvPass pass, const DirectConv& conv, const TensorDesc& x,
                        const TensorDesc& w, const TensorDesc& y, const TensorDesc* bias) {
  try {
    size_team(w, y);
    const auto plan = plan_cache().get(plan_key(pass, conv, x, w, y, bias), [&] {
      return x.dtype == DType::Float32 ? std::shared_ptr<const Plan>(make_plan(
                                             pass, conv, x, w, y, bias, memory::data_type::f32))
                                       : plan_16_bit_convolution(pass, conv, x, w, y, bias);
    });
    run(*plan, pass, conv, x, w, y, bias);
  } catch (const dnnl::error& e) {
    throw KernelError(std::string("oneDNN convolution failed: ") + e.what());
  }
}

}  // namespace mlu::kernels
