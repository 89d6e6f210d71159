// Native losses: nll_loss (1-D, 2-D and spatial, which cross_entropy decomposes into), mse,
// smooth L1, Huber, binary cross-entropy with and without logits, and their gradients.
#include <ATen/ATen.h>
#include <ATen/ExpandUtils.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"

namespace torch_mlu::ops {
namespace {

using hal::Reduction;

Reduction reduction_of(int64_t reduction) {
  TORCH_CHECK(reduction >= 0 && reduction <= 2, "invalid reduction ", reduction,
              ": expected 0 (none), 1 (mean) or 2 (sum)");
  return static_cast<Reduction>(reduction);
}

const at::Tensor& defined_or_none(const std::optional<at::Tensor>& t) {
  static const at::Tensor none;
  return t && t->defined() ? *t : none;
}

// ---- nll_loss -----------------------------------------------------------------------------

void check_nll_shapes(const at::Tensor& self, const at::Tensor& target, const at::Tensor& weight,
                      bool spatial) {
  if (spatial) {
    TORCH_CHECK(
        target.dim() == 3,
        "only batches of spatial targets supported (3D tensors) but got targets of dimension: ",
        target.dim());
    TORCH_CHECK(
        self.dim() == 4,
        "only batches of spatial inputs supported (4D tensors), but got input of dimension: ",
        self.dim());
    TORCH_CHECK(self.size(0) == target.size(0) && self.size(2) == target.size(1) &&
                    self.size(3) == target.size(2),
                "size mismatch (got input: ", self.sizes(), " , target: ", target.sizes());
  } else {
    TORCH_CHECK(self.dim() > 0 && self.dim() <= 2, "input tensor should be 1D or 2D");
    TORCH_CHECK(target.dim() <= 1, "0D or 1D target tensor expected, multi-target not supported");
    TORCH_CHECK(
        self.dim() == target.dim() + 1 && (self.dim() == 1 || self.size(0) == target.size(0)),
        "size mismatch (got input: ", self.sizes(), ", target: ", target.sizes(), ")");
  }
  TORCH_CHECK(c10::isFloatingType(self.scalar_type()), "\"nll_loss\" not implemented for '",
              self.scalar_type(), "'");
  TORCH_CHECK(target.scalar_type() == c10::kLong || target.scalar_type() == c10::kByte,
              "expected scalar type Long but found ", target.scalar_type());
  const int64_t classes = self.size(self.dim() == 1 ? 0 : 1);
  TORCH_CHECK(!weight.defined() || (weight.dim() == 1 && weight.numel() == classes),
              "weight tensor should be defined either for all ", classes,
              " classes or no classes but got weight tensor of shape: ", weight.sizes());
}

struct NllOperands {
  c10::Device device;
  at::Tensor target, weight;
  bool per_element;
};

NllOperands nll_operands(c10::Device device, const at::Tensor& self, const at::Tensor& target,
                         const at::Tensor& weight, Reduction reduction, bool spatial) {
  check_nll_shapes(self, target, weight, spatial);
  return {
      device, operand(target, target.scalar_type(), target.sizes(), device),
      weight.defined() ? operand(weight, self.scalar_type(), weight.sizes(), device) : at::Tensor(),
      reduction == Reduction::None && self.dim() > 1};
}

std::tuple<at::Tensor&, at::Tensor&> nll_forward_into(const at::Tensor& self,
                                                      const at::Tensor& target_in,
                                                      const std::optional<at::Tensor>& weight,
                                                      int64_t reduction_value, int64_t ignore_index,
                                                      at::Tensor& output, at::Tensor& total_weight,
                                                      bool spatial) {
  const Reduction reduction = reduction_of(reduction_value);
  const at::Tensor& w = defined_or_none(weight);
  const NllOperands ops =
      nll_operands(common_device({&self, &target_in, &w, &output, &total_weight}), self, target_in,
                   w, reduction, spatial);
  c10::DeviceGuard guard(ops.device);
  prepare_out(output, ops.per_element ? ops.target.sizes() : at::IntArrayRef{}, self.scalar_type(),
              ops.device);
  prepare_out(total_weight, {}, self.scalar_type(), ops.device);
  TORCH_CHECK(output.scalar_type() == self.scalar_type() &&
                  total_weight.scalar_type() == self.scalar_type(),
              "nll_loss: expected output and total_weight of dtype ", self.scalar_type());
  launch(output, hal::NllLoss{.out = describe(output),
                              .total_weight = describe(total_weight),
                              .input = describe(self),
                              .target = describe(ops.target),
                              .weight = maybe_describe(ops.weight),
                              .reduction = reduction,
                              .ignore_index = ignore_index});
  return {output, total_weight};
}

template <bool spatial>
std::tuple<at::Tensor&, at::Tensor&> nll_forward_out(const at::Tensor& self,
                                                     const at::Tensor& target,
                                                     const std::optional<at::Tensor>& weight,
                                                     int64_t reduction, int64_t ignore_index,
                                                     at::Tensor& output, at::Tensor& total_weight) {
  return nll_forward_into(self, target, weight, reduction, ignore_index, output, total_weight,
                          spatial);
}
template <bool spatial>
std::tuple<at::Tensor, at::Tensor> nll_forward(const at::Tensor& self, const at::Tensor& target,
                                               const std::optional<at::Tensor>& weight,
                                               int64_t reduction, int64_t ignore_index) {
  at::Tensor output = at::empty({0}, self.options()), total_weight = at::empty({0}, self.options());
  nll_forward_into(self, target, weight, reduction, ignore_index, output, total_weight, spatial);
  return {output, total_weight};
}

template <bool spatial>
at::Tensor& nll_backward_out(const at::Tensor& grad_output, const at::Tensor& self,
                             const at::Tensor& target_in, const std::optional<at::Tensor>& weight,
                             int64_t reduction_value, int64_t ignore_index,
                             const at::Tensor& total_weight, at::Tensor& grad_input) {
  const Reduction reduction = reduction_of(reduction_value);
  const at::Tensor& w = defined_or_none(weight);
  const NllOperands ops =
      nll_operands(common_device({&self, &target_in, &w, &grad_output, &total_weight, &grad_input}),
                   self, target_in, w, reduction, spatial);
  c10::DeviceGuard guard(ops.device);
  if (ops.per_element) {
    TORCH_CHECK(grad_output.sizes() == ops.target.sizes(), "Expected grad_output of shape ",
                ops.target.sizes(), " but got ", grad_output.sizes());
  } else {
    TORCH_CHECK(grad_output.numel() == 1,
                "Expected a single element grad_output tensor, but got: ", grad_output.sizes());
  }
  TORCH_CHECK(total_weight.numel() == 1,
              "expected total_weight to be a single element tensor, got: ", total_weight.sizes(),
              " (", total_weight.numel(), " elements)");
  const at::Tensor grad =
      ops.per_element ? operand(grad_output, self.scalar_type(), grad_output.sizes(), ops.device)
                      : operand(grad_output.reshape({}), self.scalar_type(), {}, ops.device);
  const at::Tensor tw = operand(total_weight.reshape({}), self.scalar_type(), {}, ops.device);
  prepare_out(grad_input, self.sizes(), self.scalar_type(), ops.device);
  TORCH_CHECK(grad_input.scalar_type() == self.scalar_type(),
              "nll_loss_backward: expected grad_input of dtype ", self.scalar_type());
  launch(grad_input, hal::NllLossBackward{.grad_input = describe(grad_input),
                                          .grad_output = describe(grad),
                                          .target = describe(ops.target),
                                          .weight = maybe_describe(ops.weight),
                                          .reduction = reduction,
                                          .ignore_index = ignore_index,
                                          .total_weight = describe(tw)});
  return grad_input;
}
template <bool spatial>
at::Tensor nll_backward(const at::Tensor& grad_output, const at::Tensor& self,
                        const at::Tensor& target, const std::optional<at::Tensor>& weight,
                        int64_t reduction, int64_t ignore_index, const at::Tensor& total_weight) {
  at::Tensor grad_input = new_output(self.sizes(), self.scalar_type(), self, self.device());
  return nll_backward_out<spatial>(grad_output, self, target, weight, reduction, ignore_index,
                                   total_weight, grad_input);
}

// ---- pointwise losses --------------------------------------------------------------------

struct PointwiseOperands {
  c10::Device device;
  c10::ScalarType dtype;
  std::vector<int64_t> shape;
  at::Tensor input, target, weight, pos_weight, grad;
};

// Every operand converted to the common floating dtype and broadcast to the common shape.
PointwiseOperands pointwise_operands(const char* name, const at::Tensor& input,
                                     const at::Tensor& target, const at::Tensor& weight,
                                     const at::Tensor& pos_weight, const at::Tensor& grad) {
  const c10::Device device = common_device({&input, &target, &weight, &pos_weight, &grad});
  const c10::ScalarType dtype = at::result_type(input, target);
  TORCH_CHECK(c10::isFloatingType(dtype), '"', name, "\" not implemented for '", dtype, "'");
  std::vector<int64_t> shape = at::infer_size(input.sizes(), target.sizes());
  for (const at::Tensor* t : {&weight, &pos_weight, &grad}) {
    if (t->defined()) shape = at::infer_size(shape, t->sizes());
  }
  auto convert = [&](const at::Tensor& t) {
    return t.defined() ? operand(t, dtype, shape, device) : at::Tensor();
  };
  return {device,
          dtype,
          shape,
          convert(input),
          convert(target),
          convert(weight),
          convert(pos_weight),
          convert(grad)};
}

// out = the loss Operation (an ElementwiseLoss named after the operator) of input and target.
template <typename Operation>
at::Tensor& pointwise_loss_into(const at::Tensor& input, const at::Tensor& target,
                                const at::Tensor& weight, const at::Tensor& pos_weight,
                                int64_t reduction_value, double param, at::Tensor& out) {
  constexpr const char* name = Operation::name;
  const Reduction reduction = reduction_of(reduction_value);
  const PointwiseOperands ops =
      pointwise_operands(name, input, target, weight, pos_weight, at::Tensor());
  c10::DeviceGuard guard(ops.device);
  prepare_out(out, reduction == Reduction::None ? at::IntArrayRef(ops.shape) : at::IntArrayRef{},
              ops.dtype, ops.device);
  at::Tensor result =
      out.scalar_type() == ops.dtype ? out : at::empty(out.sizes(), out.options().dtype(ops.dtype));
  launch(result, Operation{{.out = describe(result),
                            .input = describe(ops.input),
                            .target = describe(ops.target),
                            .weight = maybe_describe(ops.weight),
                            .pos_weight = maybe_describe(ops.pos_weight),
                            .reduction = reduction,
                            .param = param}});
  if (!result.is_same(out)) out.copy_(result);
  return out;
}

// grad_input = the gradient Operation (an ElementwiseLossBackward named after the operator).
template <typename Operation>
at::Tensor& pointwise_loss_backward_into(const at::Tensor& grad_output, const at::Tensor& input,
                                         const at::Tensor& target, const at::Tensor& weight,
                                         int64_t reduction_value, double param,
                                         at::Tensor& grad_input) {
  constexpr const char* name = Operation::name;
  const Reduction reduction = reduction_of(reduction_value);
  const PointwiseOperands ops =
      pointwise_operands(name, input, target, weight, at::Tensor(), grad_output);
  c10::DeviceGuard guard(ops.device);
  // ATen scales mean gradients by the input's element count.
  const double scale =
      reduction == Reduction::Mean ? 1.0 / static_cast<double>(input.numel()) : 1.0;
  prepare_out(grad_input, ops.shape, ops.dtype, ops.device);
  at::Tensor result = grad_input.scalar_type() == ops.dtype
                          ? grad_input
                          : at::empty(ops.shape, grad_input.options().dtype(ops.dtype));
  launch(result, Operation{{.grad_input = describe(result),
                            .grad_output = describe(ops.grad),
                            .input = describe(ops.input),
                            .target = describe(ops.target),
                            .weight = maybe_describe(ops.weight),
                            .scale = scale,
                            .param = param}});
  if (!result.is_same(grad_input)) grad_input.copy_(result);
  return grad_input;
}

at::Tensor new_loss(const at::Tensor& input) { return at::empty({0}, input.options()); }

at::Tensor& mse_loss_out(const at::Tensor& input, const at::Tensor& target, int64_t reduction,
                         at::Tensor& out) {
  return pointwise_loss_into<hal::MseLoss>(input, target, {}, {}, reduction, 0, out);
}
at::Tensor mse_loss(const at::Tensor& input, const at::Tensor& target, int64_t reduction) {
  at::Tensor out = new_loss(input);
  return mse_loss_out(input, target, reduction, out);
}
at::Tensor& mse_loss_backward_out(const at::Tensor& grad, const at::Tensor& input,
                                  const at::Tensor& target, int64_t reduction,
                                  at::Tensor& grad_input) {
  return pointwise_loss_backward_into<hal::MseLossBackward>(grad, input, target, {}, reduction, 0,
                                                            grad_input);
}
at::Tensor mse_loss_backward(const at::Tensor& grad, const at::Tensor& input,
                             const at::Tensor& target, int64_t reduction) {
  at::Tensor grad_input = new_loss(input);
  return mse_loss_backward_out(grad, input, target, reduction, grad_input);
}

at::Tensor& smooth_l1_loss_out(const at::Tensor& input, const at::Tensor& target, int64_t reduction,
                               double beta, at::Tensor& out) {
  TORCH_CHECK(beta >= 0, "smooth_l1_loss does not support negative values for beta.");
  return pointwise_loss_into<hal::SmoothL1Loss>(input, target, {}, {}, reduction, beta, out);
}
at::Tensor smooth_l1_loss(const at::Tensor& input, const at::Tensor& target, int64_t reduction,
                          double beta) {
  at::Tensor out = new_loss(input);
  return smooth_l1_loss_out(input, target, reduction, beta, out);
}
at::Tensor& smooth_l1_loss_backward_out(const at::Tensor& grad, const at::Tensor& input,
                                        const at::Tensor& target, int64_t reduction, double beta,
                                        at::Tensor& grad_input) {
  return pointwise_loss_backward_into<hal::SmoothL1LossBackward>(grad, input, target, {}, reduction,
                                                                 beta, grad_input);
}
at::Tensor smooth_l1_loss_backward(const at::Tensor& grad, const at::Tensor& input,
                                   const at::Tensor& target, int64_t reduction, double beta) {
  at::Tensor grad_input = new_loss(input);
  return smooth_l1_loss_backward_out(grad, input, target, reduction, beta, grad_input);
}

at::Tensor& huber_loss_out(const at::Tensor& input, const at::Tensor& target, int64_t reduction,
                           double delta, at::Tensor& out) {
  TORCH_CHECK(delta > 0, "huber_loss does not support non-positive values for delta.");
  return pointwise_loss_into<hal::HuberLoss>(input, target, {}, {}, reduction, delta, out);
}
at::Tensor huber_loss(const at::Tensor& input, const at::Tensor& target, int64_t reduction,
                      double delta) {
  at::Tensor out = new_loss(input);
  return huber_loss_out(input, target, reduction, delta, out);
}
at::Tensor& huber_loss_backward_out(const at::Tensor& grad, const at::Tensor& input,
                                    const at::Tensor& target, int64_t reduction, double delta,
                                    at::Tensor& grad_input) {
  return pointwise_loss_backward_into<hal::HuberLossBackward>(grad, input, target, {}, reduction,
                                                              delta, grad_input);
}
at::Tensor huber_loss_backward(const at::Tensor& grad, const at::Tensor& input,
                               const at::Tensor& target, int64_t reduction, double delta) {
  at::Tensor grad_input = new_loss(input);
  return huber_loss_backward_out(grad, input, target, reduction, delta, grad_input);
}

at::Tensor& bce_out(const at::Tensor& input, const at::Tensor& target,
                    const std::optional<at::Tensor>& weight, int64_t reduction, at::Tensor& out) {
  return pointwise_loss_into<hal::BinaryCrossEntropy>(input, target, defined_or_none(weight), {},
                                                      reduction, 0, out);
}
at::Tensor bce(const at::Tensor& input, const at::Tensor& target,
               const std::optional<at::Tensor>& weight, int64_t reduction) {
  at::Tensor out = new_loss(input);
  return bce_out(input, target, weight, reduction, out);
}
at::Tensor& bce_backward_out(const at::Tensor& grad, const at::Tensor& input,
                             const at::Tensor& target, const std::optional<at::Tensor>& weight,
                             int64_t reduction, at::Tensor& grad_input) {
  return pointwise_loss_backward_into<hal::BinaryCrossEntropyBackward>(
      grad, input, target, defined_or_none(weight), reduction, 0, grad_input);
}
at::Tensor bce_backward(const at::Tensor& grad, const at::Tensor& input, const at::Tensor& target,
                        const std::optional<at::Tensor>& weight, int64_t reduction) {
  at::Tensor grad_input = new_loss(input);
  return bce_backward_out(grad, input, target, weight, reduction, grad_input);
}
// Its gradient is composed of elementwise operators by autograd.
at::Tensor bce_with_logits(const at::Tensor& input, const at::Tensor& target,
                           const std::optional<at::Tensor>& weight,
                           const std::optional<at::Tensor>& pos_weight, int64_t reduction) {
  at::Tensor out = new_loss(input);
  return pointwise_loss_into<hal::BinaryCrossEntropyWithLogits>(
      input, target, defined_or_none(weight), defined_or_none(pos_weight), reduction, 0, out);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("nll_loss_forward", nll_forward<false>);
  m.impl("nll_loss_forward.output", nll_forward_out<false>);
  m.impl("nll_loss_backward", nll_backward<false>);
  m.impl("nll_loss_backward.grad_input", nll_backward_out<false>);
  m.impl("nll_loss2d_forward", nll_forward<true>);
  m.impl("nll_loss2d_forward.output", nll_forward_out<true>);
  m.impl("nll_loss2d_backward", nll_backward<true>);
  m.impl("nll_loss2d_backward.grad_input", nll_backward_out<true>);
  m.impl("mse_loss", mse_loss);
  m.impl("mse_loss.out", mse_loss_out);
  m.impl("mse_loss_backward", mse_loss_backward);
  m.impl("mse_loss_backward.grad_input", mse_loss_backward_out);
  m.impl("smooth_l1_loss", smooth_l1_loss);
  m.impl("smooth_l1_loss.out", smooth_l1_loss_out);
  m.impl("smooth_l1_loss_backward", smooth_l1_loss_backward);
  m.impl("smooth_l1_loss_backward.grad_input", smooth_l1_loss_backward_out);
  m.impl("huber_loss", huber_loss);
  m.impl("huber_loss.out", huber_loss_out);
  m.impl("huber_loss_backward", huber_loss_backward);
  m.impl("huber_loss_backward.out", huber_loss_backward_out);
  m.impl("binary_cross_entropy", bce);
  m.impl("binary_cross_entropy.out", bce_out);
  m.impl("binary_cross_entropy_backward", bce_backward);
  m.impl("binary_cross_entropy_backward.grad_input", bce_backward_out);
  m.impl("binary_cross_entropy_with_logits", bce_with_logits);
}

}  // namespace
}  // namespace torch_mlu::ops
