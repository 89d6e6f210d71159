// The fused operators (fused.cpp registers them whole: schema, device and meta kernels, autograd,
// autocast) and what their device kernels in linear_algebra.cpp and conv.cpp share with it.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <optional>
#include <tuple>

#include "mlu/ops/gemm.h"

namespace torch_mlu::ops {

// The activations the fused kernels apply, by the names operator arguments use.
struct NamedActivation {
  const char* name;
  mlu::hal::Activation activation;
  bool gradient_needs_pre_activation;  // relu's gradient follows from its result; these do not
};
extern const NamedActivation kActivations[5];

// The activation an operator argument names; a ValueError listing kActivations otherwise.
const NamedActivation& activation_named(c10::string_view name);

// Device kernels.
std::tuple<at::Tensor, at::Tensor> linear_act_on_device(const at::Tensor& input,
                                                        const at::Tensor& weight,
                                                        const std::optional<at::Tensor>& bias,
                                                        c10::string_view activation,
                                                        bool keep_pre_activation);
at::Tensor conv_relu_on_device(const at::Tensor& input, const at::Tensor& weight,
                               const std::optional<at::Tensor>& bias, c10::IntArrayRef stride,
                               c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups);
// The (empty) output a convolution of these operands has on mlu: shape, dtype and memory
// format, on input's device (the meta device for fake tensors).
at::Tensor empty_conv_output(const at::Tensor& input, const at::Tensor& weight,
                             c10::IntArrayRef stride, c10::IntArrayRef padding,
                             c10::IntArrayRef dilation, int64_t groups);

}  // namespace torch_mlu::ops
