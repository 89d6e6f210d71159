// Direct convolutions through oneDNN. oneDNN picks its own (blocked) layouts for each primitive;
// operands are reordered from and to the caller's strides and dtype (16-bit types compute in
// float32; float16 is widened by the library's own conversions, since oneDNN's float16 reorders
// are slow on CPUs without AVX512-FP16). Primitives and reorders are built once per shape and
// kept in a small LRU cache, so the repeated steps of a training loop only execute.
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "conv_internal.h"
#include "float32_copy.h"
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

memory::desc any_desc(memory::dims dims) {
  return memory::desc(dims, memory::data_type::f32, memory::format_tag::any);
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
  bool written;
};

struct Plan {
  dnnl::primitive primitive;
  std::vector<Operand> operands;
};

Operand make_operand(int arg, const memory::desc& user, const memory::desc& internal,
                     bool written) {
  Operand op{arg, user, internal, std::nullopt, written};
  if (user != internal) {
    const dnnl::engine& e = onednn_engine();
    op.convert = written ? dnnl::reorder(dnnl::reorder::primitive_desc(e, internal, e, user))
                         : dnnl::reorder(dnnl::reorder::primitive_desc(e, user, e, internal));
  }
  return op;
}

std::shared_ptr<const Plan> make_plan(ConvPass pass, const DirectConv& c, const TensorDesc& x,
                                      const TensorDesc& w, const TensorDesc& y,
                                      const TensorDesc* bias) {
  const dnnl::engine& e = onednn_engine();
  const int n = c.spatial_dims;
  const memory::dims stride(c.stride.begin(), c.stride.begin() + n);
  const memory::dims pad_before(c.pad_before.begin(), c.pad_before.begin() + n);
  const memory::dims pad_after(c.pad_after.begin(), c.pad_after.begin() + n);
  memory::dims dilation(c.dilation.begin(), c.dilation.begin() + n);
  for (auto& d : dilation) d -= 1;  // oneDNN counts the skipped elements

  const memory::desc x_any = any_desc(activation_dims(x)), y_any = any_desc(activation_dims(y)),
                     w_any = any_desc(weight_dims(w, c.groups));
  const auto algorithm = dnnl::algorithm::convolution_direct;
  const auto forward_kind = dnnl::prop_kind::forward_training;
  const memory::desc x_user = user_desc(x), y_user = user_desc(y),
                     w_user = user_weight_desc(w, c.groups);

  auto plan = std::make_shared<Plan>();
  if (pass == ConvPass::Forward) {
    dnnl::primitive_attr attr;
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
        e, algorithm, x_any, w_any, y_any, stride, dilation, pad_before, pad_after, hint);
    plan->primitive = dnnl::convolution_backward_data(pd);
    plan->operands = {make_operand(DNNL_ARG_DIFF_DST, y_user, pd.diff_dst_desc(), false),
                      make_operand(DNNL_ARG_WEIGHTS, w_user, pd.weights_desc(), false),
                      make_operand(DNNL_ARG_DIFF_SRC, x_user, pd.diff_src_desc(), true)};
  } else {
    const dnnl::convolution_backward_weights::primitive_desc pd(
        e, algorithm, x_any, w_any, y_any, stride, dilation, pad_before, pad_after, hint);
    plan->primitive = dnnl::convolution_backward_weights(pd);
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
      op.convert->execute(stream, user, internal);
    }
    args.emplace(op.arg, internal);
  }
  plan.primitive.execute(stream, args);
  std::size_t r = 0;
  for (const Operand& op : plan.operands) {
    if (op.written && op.convert) {
      op.convert->execute(stream, results[r].first, results[r].second);
      ++r;
    }
  }
  stream.wait();
}

void convolution_in_float32(ConvPass pass, const DirectConv& conv, const TensorDesc& x,
                            const TensorDesc& w, const TensorDesc& y, const TensorDesc* bias) {
  Float32Copy wx(x, pass != ConvPass::BackwardData), ww(w, pass != ConvPass::BackwardWeights),
      wy(y, pass != ConvPass::Forward);
  std::optional<Float32Copy> wbias;
  if (bias != nullptr) wbias.emplace(*bias, true);
  onednn_convolution(pass, conv, wx.desc, ww.desc, wy.desc, wbias ? &wbias->desc : nullptr);
  switch (pass) {
    case ConvPass::Forward: return copy(y, wy.desc);
    case ConvPass::BackwardData: return copy(x, wx.desc);
    case ConvPass::BackwardWeights: return copy(w, ww.desc);
  }
}

}  // namespace

void onednn_convolution(ConvPass pass, const DirectConv& conv, const TensorDesc& x,
                        const TensorDesc& w, const TensorDesc& y, const TensorDesc* bias) {
  if (x.dtype == DType::Float16) return convolution_in_float32(pass, conv, x, w, y, bias);
  try {
    size_team(w, y);
    const auto plan = plan_cache().get(plan_key(pass, conv, x, w, y, bias),
                                       [&] { return make_plan(pass, conv, x, w, y, bias); });
    std::vector<void*> data;
    switch (pass) {
      case ConvPass::Forward: data = {x.data, w.data, y.data}; break;
      case ConvPass::BackwardData: data = {y.data, w.data, x.data}; break;
      case ConvPass::BackwardWeights: data = {x.data, y.data, w.data}; break;
    }
    if (bias != nullptr) data.push_back(bias->data);
    execute(*plan, data);
  } catch (const dnnl::error& e) {
    throw KernelError(std::string("oneDNN convolution failed: ") + e.what());
  }
}

}  // namespace mlu::kernels
