// scaled_dot_product_attention on mlu: PyTorch asks the backend which implementation to use
// (_fused_sdp_choice); attention with or without dropout, a boolean or an additive mask that
// needs no gradient, takes the tiled kernel through the "overrideable" entry points (16-bit
// operands computing in float32); everything else PyTorch's math composition of native ops.
// Dropout draws from the device generator; the Philox seed and offset go to backward in device
// tensors the forward's work writes, so that a captured graph's replays each draw anew.
#include <ATen/ATen.h>
#include <ATen/native/DispatchStub.h>
#include <ATen/native/transformers/attention.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <cmath>

#include "common.h"
#include "random.h"

namespace torch_mlu::ops {

// Values of sdp::SDPBackend, which is not in the installed public headers.
constexpr int64_t kMathBackend = 0;
constexpr int64_t kOverrideableBackend = 4;

namespace {

bool attention_dtype(c10::ScalarType t) {
  return t == at::kFloat || t == at::kHalf || t == at::kBFloat16;
}

// Whether mask broadcasts to [B, H, Lq, Lk] and the kernel can read it (on q's device).
bool mask_fits_kernel(const at::Tensor& mask, const at::Tensor& q, const at::Tensor& k) {
  if (mask.device() != q.device() || mask.requires_grad() || mask.dim() > 4 ||
      !(mask.scalar_type() == at::kBool || attention_dtype(mask.scalar_type()))) {
    return false;
  }
  const std::array<int64_t, 4> full{q.size(0), q.size(1), q.size(2), k.size(2)};
  for (int64_t d = 1; d <= mask.dim(); ++d) {
    const int64_t size = mask.size(-d);
    if (size != 1 && size != full[4 - d]) return false;
  }
  return true;
}

}  // namespace

int64_t fused_sdp_choice(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         const std::optional<at::Tensor>& attn_mask, double dropout_p,
                         bool is_causal, std::optional<double>, bool enable_gqa) {
  const bool shapes = q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && q.size(0) == k.size(0) &&
                      k.size(0) == v.size(0) && q.size(1) == k.size(1) && k.size(1) == v.size(1) &&
                      q.size(3) == k.size(3) && k.size(2) == v.size(2) && q.size(2) > 0 &&
                      k.size(2) > 0;
  const bool dtypes = attention_dtype(q.scalar_type()) && k.scalar_type() == q.scalar_type() &&
                      v.scalar_type() == q.scalar_type();
  const bool masked = attn_mask.has_value() && attn_mask->defined();
  // A mask together with is_causal is an error PyTorch's math path reports.
  const bool mask_ok = !masked || (!is_causal && shapes && mask_fits_kernel(*attn_mask, q, k));
  const bool plain = dropout_p >= 0.0 && dropout_p < 1.0 && !enable_gqa;
  // The tiled kernel is mlu's flash attention. torch.nn.attention.sdpa_kernel leaves the
  // overrideable implementation enabled whatever it is given, so the math path alone enabled
  // (sdpa_kernel(SDPBackend.MATH)) is how a user asks for it.
  const auto& context = at::globalContext();
  const bool math_only = context.userEnabledMathSDP() && !context.userEnabledFlashSDP() &&
                         !context.userEnabledMemEfficientSDP() && !context.userEnabledCuDNNSDP();
  const bool tiled_enabled = context.userEnabledOverrideableSDP() && !math_only;
  if (shapes && dtypes && plain && mask_ok && tiled_enabled) return kOverrideableBackend;
  TORCH_CHECK(context.userEnabledMathSDP(),
              "scaled_dot_product_attention on mlu: no enabled implementation takes these inputs "
              "(the tiled kernel ",
              tiled_enabled ? "does not take them" : "is disabled", ", the math path is disabled)");
  return kMathBackend;
}

namespace {

// An operand as the kernel reads it: unit feature stride (16-bit ones are widened by the kernel,
// a slice at a time).
at::Tensor kernel_operand(const at::Tensor& t) { return t.stride(3) == 1 ? t : t.contiguous(); }

// The mask broadcast to [B, H, Lq, Lk] (zero strides, no copy) in a dtype the kernel reads.
at::Tensor kernel_mask(const std::optional<at::Tensor>& mask, const at::Tensor& q,
                       const at::Tensor& k) {
  if (!mask.has_value() || !mask->defined()) return at::Tensor();
  const at::Tensor m = mask->scalar_type() == at::kBool ? *mask : mask->to(at::kFloat);
  return m.expand({q.size(0), q.size(1), q.size(2), k.size(2)});
}

hal::Attention describe_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const at::Tensor& out, const at::Tensor& lse,
                                  const at::Tensor& mask, bool causal, std::optional<double> scale,
                                  double dropout) {
  hal::Attention a{describe(q), describe(k), describe(v), describe(out), describe(lse)};
  if (mask.defined()) a.mask = describe(mask);
  a.scale = static_cast<float>(scale.value_or(1.0 / std::sqrt(static_cast<double>(q.size(3)))));
  a.causal = causal;
  a.dropout = static_cast<float>(dropout);
  return a;
}

void check_dropout(double p) {
  TORCH_CHECK(p >= 0.0 && p < 1.0,
              "the mlu attention kernel takes a dropout probability in [0, 1), got ", p);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, c10::SymInt, c10::SymInt, at::Tensor,
           at::Tensor, at::Tensor>
attention_forward(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                  const std::optional<at::Tensor>& attn_bias, double dropout_p, bool is_causal,
                  bool, std::optional<double> scale) {
  const c10::Device device = common_device({&query, &key, &value});
  c10::DeviceGuard guard(device);
  check_dropout(dropout_p);
  TORCH_CHECK(fused_sdp_choice(query, key, value, attn_bias, dropout_p, is_causal, scale, false) ==
                  kOverrideableBackend,
              "the mlu attention kernel needs float32, float16 or bfloat16 [batch, heads, length, "
              "features] inputs of matching shapes, and a mask that broadcasts to [batch, heads, "
              "queries, keys] needing no gradient (not together with is_causal)");
  const at::Tensor q = kernel_operand(query), k = kernel_operand(key), v = kernel_operand(value);
  const at::Tensor mask = kernel_mask(attn_bias, q, k);
  const int64_t batch = q.size(0), heads = q.size(1), queries = q.size(2);
  // [B, L, H, E] storage seen as [B, H, L, E]: transposing back for the output projection is free.
  at::Tensor out = at::empty({batch, queries, heads, v.size(3)}, q.options()).transpose(1, 2);
  at::Tensor lse = at::empty({batch, heads, queries}, q.options().dtype(at::kFloat));
  // The seed and offset have the dtype and shape of PyTorch's meta function, which compiled
  // graphs check; without dropout they hold nothing.
  const at::Tensor seed = at::empty({}, q.options().dtype(at::kLong));
  const at::Tensor offset = dropout_p > 0 ? at::empty({}, q.options().dtype(at::kLong)) : seed;
  hal::AttentionForward forward{
      .attention = describe_attention(q, k, v, out, lse, mask, is_causal, scale, dropout_p)};
  if (dropout_p > 0) {
    forward.philox = reserve(std::nullopt, q, q.size(0) * q.size(1) * queries * k.size(2));
    forward.seed = describe(seed);
    forward.offset = describe(offset);
  }
  launch(out, forward);
  const at::Tensor none = at::empty({0}, query.options());
  return {out, lse, none, none, c10::SymInt(queries), c10::SymInt(k.size(2)), seed, offset, none};
}

// grad in the layout empty_like(input) has (the input's strides when it is dense, else
// contiguous): grad itself when the layouts already agree.
at::Tensor in_layout_of(const at::Tensor& grad, const at::Tensor& input) {
  const bool agrees = input.is_non_overlapping_and_dense() ? grad.strides() == input.strides()
                                                           : grad.is_contiguous();
  return agrees ? grad : at::empty_like(input).copy_(grad);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> attention_backward(
    const at::Tensor& grad_out, const at::Tensor& query, const at::Tensor& key,
    const at::Tensor& value, const at::Tensor& attn_bias, std::array<bool, 4> grad_input_mask,
    const at::Tensor& out, const at::Tensor& logsumexp, const at::Tensor&, const at::Tensor&,
    c10::SymInt, c10::SymInt, double dropout_p, bool is_causal, const at::Tensor& philox_seed,
    const at::Tensor& philox_offset, std::optional<double> scale) {
  const c10::Device device = common_device({&grad_out, &query, &key, &value, &out, &logsumexp});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(!grad_input_mask[3] || !attn_bias.defined(),
              "the mlu attention kernel gives no gradient for the mask; PyTorch's math path does");
  const c10::ScalarType dtype = query.scalar_type();
  TORCH_CHECK(attention_dtype(dtype) && key.scalar_type() == dtype &&
                  value.scalar_type() == dtype && out.scalar_type() == dtype &&
                  grad_out.scalar_type() == dtype && logsumexp.scalar_type() == at::kFloat,
              "the mlu attention backward needs grad_out, query, key, value and out of one dtype "
              "(float32, float16 or bfloat16) and a float32 logsumexp, got ",
              grad_out.scalar_type(), ", ", dtype, ", ", key.scalar_type(), ", ",
              value.scalar_type(), ", ", out.scalar_type(), " and ", logsumexp.scalar_type());
  const at::Tensor q = kernel_operand(query), k = kernel_operand(key), v = kernel_operand(value);
  const at::Tensor o = kernel_operand(out), g = kernel_operand(grad_out);
  const at::Tensor mask = kernel_mask(attn_bias, q, k);
  const at::Tensor lse = logsumexp.contiguous();
  // Gradients in their inputs' layouts (PyTorch's meta function: empty_like, which compiled graphs
  // check); the kernel writes any layout whose features are unit-stride.
  at::Tensor grad_q = at::empty_like(q), grad_k = at::empty_like(k), grad_v = at::empty_like(v);
  check_dropout(dropout_p);
  const bool dropout = dropout_p > 0;
  if (dropout) {
    TORCH_CHECK(philox_seed.device() == device && philox_offset.device() == device &&
                    philox_seed.scalar_type() == at::kLong &&
                    philox_offset.scalar_type() == at::kLong && philox_seed.numel() == 1 &&
                    philox_offset.numel() == 1,
                "the mlu attention backward with dropout needs the forward's philox_seed and "
                "philox_offset (int64 scalars on ",
                device, ")");
  }
  launch(grad_q,
         hal::AttentionBackward{
             .attention = describe_attention(q, k, v, o, lse, mask, is_causal, scale, dropout_p),
             .grad_out = describe(g),
             .grad_q = describe(grad_q),
             .grad_k = describe(grad_k),
             .grad_v = describe(grad_v),
             .seed = dropout ? std::make_optional(describe(philox_seed)) : std::nullopt,
             .offset = dropout ? std::make_optional(describe(philox_offset)) : std::nullopt});
  return {in_layout_of(grad_q, query), in_layout_of(grad_k, key), in_layout_of(grad_v, value),
          at::Tensor()};
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_fused_sdp_choice", fused_sdp_choice);
  m.impl("_scaled_dot_product_fused_attention_overrideable", attention_forward);
  m.impl("_scaled_dot_product_fused_attention_overrideable_backward", attention_backward);
}

}  // namespace
}  // namespace torch_mlu::ops

// F.scaled_dot_product_attention asks this stub, not the _fused_sdp_choice operator above (which
// serves direct calls), which implementation to run.
namespace at::native {
REGISTER_PRIVATEUSE1_DISPATCH(_fused_sdp_choice_stub, &torch_mlu::ops::fused_sdp_choice)
}  // namespace at::native
