// Native CTC loss: _ctc_loss and its backward (nn.CTCLoss and F.ctc_loss reduce its per-sample
// result themselves). Lengths given as tensors are read back to the host, as CPU and CUDA do.
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"

namespace torch_mlu::ops {
namespace {

using Lengths = std::vector<int64_t>;

// Checks the operands as PyTorch's CPU implementation does and describes them (targets: int64).
hal::Ctc describe_ctc(const at::Tensor& log_probs, const at::Tensor& targets,
                      const Lengths& input_lengths, const Lengths& target_lengths, int64_t blank) {
  TORCH_CHECK(log_probs.dim() == 3, "ctc_loss: expected log_probs of shape [T, N, C], got ",
              log_probs.sizes());
  TORCH_CHECK(log_probs.scalar_type() == at::kFloat || log_probs.scalar_type() == at::kDouble,
              "ctc_loss: expected float32 or float64 log_probs, got ", log_probs.scalar_type());
  const int64_t steps = log_probs.size(0), batch = log_probs.size(1), classes = log_probs.size(2);
  TORCH_CHECK(blank >= 0 && blank < classes, "ctc_loss: blank must be in label range, got ", blank);
  TORCH_CHECK(static_cast<int64_t>(input_lengths.size()) == batch,
              "ctc_loss: input_lengths must have ", batch, " values (the batch size), got ",
              input_lengths.size());
  TORCH_CHECK(static_cast<int64_t>(target_lengths.size()) == batch,
              "ctc_loss: target_lengths must have ", batch, " values (the batch size), got ",
              target_lengths.size());
  int64_t total = 0;
  for (int64_t n = 0; n < batch; ++n) {
    TORCH_CHECK(input_lengths[n] >= 0 && input_lengths[n] <= steps,
                "ctc_loss: expected input_lengths to be in [0, ", steps, "] (T), got ",
                input_lengths[n], " for sample ", n);
    TORCH_CHECK(target_lengths[n] >= 0, "ctc_loss: negative target length ", target_lengths[n],
                " for sample ", n);
    TORCH_CHECK(targets.dim() != 2 || target_lengths[n] <= targets.size(1),
                "ctc_loss: target length ", target_lengths[n], " of sample ", n,
                " is longer than the padded targets (", targets.size(1), ")");
    total += target_lengths[n];
  }
  TORCH_CHECK(targets.dim() == 2 ? targets.size(0) == batch
                                 : targets.dim() == 1 && targets.size(0) >= total,
              "ctc_loss: expected targets of shape [N, S] or the concatenated targets (", total,
              " values), got ", targets.sizes());
  return {describe(log_probs), describe(targets), input_lengths, target_lengths, blank};
}

// Targets as the operation reads them; the caller keeps the tensor until the launch.
at::Tensor long_targets(const at::Tensor& targets) {
  TORCH_CHECK(targets.scalar_type() == at::kLong || targets.scalar_type() == at::kInt,
              "ctc_loss: expected int32 or int64 targets, got ", targets.scalar_type());
  return targets.to(at::kLong).contiguous();
}

int64_t longest(const Lengths& lengths) {
  return lengths.empty() ? 0 : *std::max_element(lengths.begin(), lengths.end());
}

std::tuple<at::Tensor, at::Tensor> ctc_loss(const at::Tensor& log_probs, const at::Tensor& targets,
                                            at::IntArrayRef input_lengths,
                                            at::IntArrayRef target_lengths, int64_t blank,
                                            bool /*zero_infinity: applied by the caller*/) {
  const c10::Device device = common_device({&log_probs, &targets});
  c10::DeviceGuard guard(device);
  const at::Tensor lp = log_probs.contiguous(), tg = long_targets(targets);
  const hal::Ctc ctc = describe_ctc(lp, tg, input_lengths.vec(), target_lengths.vec(), blank);
  at::Tensor nll = at::empty({lp.size(1)}, lp.options());
  at::Tensor log_alpha =
      at::empty({lp.size(1), lp.size(0), 2 * longest(ctc.target_lengths) + 1}, lp.options());
  launch(nll, hal::CtcLoss{ctc, describe(nll), describe(log_alpha)});
  return {nll, log_alpha};
}

Lengths host_lengths(const at::Tensor& lengths) {
  const at::Tensor values = lengths.to(at::kCPU, at::kLong).contiguous();
  return {values.data_ptr<int64_t>(), values.data_ptr<int64_t>() + values.numel()};
}

std::tuple<at::Tensor, at::Tensor> ctc_loss_tensor(const at::Tensor& log_probs,
                                                   const at::Tensor& targets,
                                                   const at::Tensor& input_lengths,
                                                   const at::Tensor& target_lengths, int64_t blank,
                                                   bool zero_infinity) {
  return ctc_loss(log_probs, targets, host_lengths(input_lengths), host_lengths(target_lengths),
                  blank, zero_infinity);
}

at::Tensor ctc_loss_backward(const at::Tensor& grad, const at::Tensor& log_probs,
                             const at::Tensor& targets, at::IntArrayRef input_lengths,
                             at::IntArrayRef target_lengths, const at::Tensor& neg_log_likelihood,
                             const at::Tensor& log_alpha, int64_t blank, bool zero_infinity) {
  const c10::Device device =
      common_device({&grad, &log_probs, &targets, &neg_log_likelihood, &log_alpha});
  c10::DeviceGuard guard(device);
  const at::Tensor lp = log_probs.contiguous(), tg = long_targets(targets);
  const hal::Ctc ctc = describe_ctc(lp, tg, input_lengths.vec(), target_lengths.vec(), blank);
  TORCH_CHECK(grad.numel() == lp.size(1) && neg_log_likelihood.numel() == lp.size(1),
              "ctc_loss_backward: expected a gradient and a loss per sample");
  const at::Tensor g = grad.to(lp.scalar_type()).contiguous().view(-1);
  const at::Tensor alpha = log_alpha.to(lp.scalar_type()).contiguous();
  const at::Tensor nll = neg_log_likelihood.to(lp.scalar_type()).contiguous();
  at::Tensor result = at::empty_like(lp);
  launch(result, hal::CtcLossBackward{.ctc = ctc,
                                      .grad_out = describe(g),
                                      .neg_log_likelihood = describe(nll),
                                      .log_alpha = describe(alpha),
                                      .zero_infinity = zero_infinity,
                                      .grad = describe(result)});
  return result;
}

at::Tensor ctc_loss_backward_tensor(const at::Tensor& grad, const at::Tensor& log_probs,
                                    const at::Tensor& targets, const at::Tensor& input_lengths,
                                    const at::Tensor& target_lengths,
                                    const at::Tensor& neg_log_likelihood,
                                    const at::Tensor& log_alpha, int64_t blank,
                                    bool zero_infinity) {
  return ctc_loss_backward(grad, log_probs, targets, host_lengths(input_lengths),
                           host_lengths(target_lengths), neg_log_likelihood, log_alpha, blank,
                           zero_infinity);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_ctc_loss", ctc_loss);
  m.impl("_ctc_loss.Tensor", ctc_loss_tensor);
  m.impl("_ctc_loss_backward", ctc_loss_backward);
  m.impl("_ctc_loss_backward.Tensor", ctc_loss_backward_tensor);
}

}  // namespace
}  // namespace torch_mlu::ops
