// torchvision's detection operators on mlu, registered for the mlu key as torchvision registers
// its CUDA kernels (its autograd kernels then call the backward operators here). The registrations
// wait in the dispatcher until torchvision defines the operators; without torchvision they are
// never reached. 16-bit operands are pooled in float32, as torchvision's autocast does.
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"

namespace torch_mlu::ops {
namespace {

at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, "nms: expected boxes of shape [K, 4], got ",
              boxes.sizes());
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0),
              "nms: expected one score per box ([", boxes.size(0), "]), got ", scores.sizes());
  TORCH_CHECK(boxes.scalar_type() == scores.scalar_type(),
              "nms: boxes and scores must have the same dtype, got ", boxes.scalar_type(), " and ",
              scores.scalar_type());
  TORCH_CHECK(at::isFloatingType(boxes.scalar_type()), "nms: expected floating-point boxes, got ",
              boxes.scalar_type());
  c10::DeviceGuard guard(common_device({&boxes, &scores}));
  if (boxes.size(0) == 0) return at::empty({0}, boxes.options().dtype(at::kLong));
  const at::ScalarType type = boxes.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor b = boxes.to(type).contiguous();
  const at::Tensor order = std::get<1>(scores.sort(/*stable=*/true, 0, /*descending=*/true));
  at::Tensor keep = at::empty({boxes.size(0)}, order.options());
  at::Tensor kept = at::empty({1}, order.options());
  launch(keep,
         hal::Nms{describe(b), describe(order), iou_threshold, describe(keep), describe(kept)});
  // The number kept decides the result's shape: read back, as CPU and CUDA do.
  return keep.narrow(0, 0, kept.item<int64_t>());
}

// The dtype a pooling computes in, and the operands' checks shared by all poolings.
at::ScalarType pooling_type(const char* name, const at::Tensor& values, const at::Tensor& rois) {
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5, name,
              ": expected rois of shape [K, 5] (batch index, x1, y1, x2, y2), got ", rois.sizes());
  TORCH_CHECK(values.scalar_type() == rois.scalar_type(), name,
              ": the input and rois must have the same dtype, got ", values.scalar_type(), " and ",
              rois.scalar_type());
  TORCH_CHECK(at::isFloatingType(values.scalar_type()), name,
              ": expected a floating-point input, got ", values.scalar_type());
  return values.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

using hal::RoiKind;

hal::RoiPooling describe_pooling(RoiKind kind, const at::Tensor& rois, double spatial_scale,
                                 int64_t pooled_height, int64_t pooled_width,
                                 int64_t sampling_ratio, bool aligned) {
  TORCH_CHECK(pooled_height > 0 && pooled_width > 0,
              "roi pooling: the output size must be positive, got ", pooled_height, "x",
              pooled_width);
  return {kind,         describe(rois), spatial_scale, pooled_height,
          pooled_width, sampling_ratio, aligned};
}

// Forward of every pooling: output [K, C', PH, PW] and the int32 index (empty for Align). Errors
// name the operator.
template <RoiKind kind>
std::tuple<at::Tensor, at::Tensor> pool_forward(const at::Tensor& input, const at::Tensor& rois,
                                                double spatial_scale, int64_t pooled_height,
                                                int64_t pooled_width, int64_t sampling_ratio,
                                                bool aligned) {
  const char* name = hal::RoiPoolForward<kind>::name;
  const at::ScalarType type = pooling_type(name, input, rois);
  TORCH_CHECK(input.dim() == 4, name, ": expected an input of shape [N, C, H, W], got ",
              input.sizes());
  c10::DeviceGuard guard(common_device({&input, &rois}));
  int64_t channels = input.size(1);
  if (kind == RoiKind::PsAlign || kind == RoiKind::PsAvgPool) {
    TORCH_CHECK(
        pooled_height > 0 && pooled_width > 0 && channels % (pooled_height * pooled_width) == 0,
        name, ": the input's channels (", channels,
        ") must be a multiple of the output height times width (", pooled_height, "x", pooled_width,
        ")");
    channels /= pooled_height * pooled_width;
  }
  const std::vector<int64_t> shape{rois.size(0), channels, pooled_height, pooled_width};
  at::Tensor output = at::empty(shape, input.options().dtype(type));
  at::Tensor index = at::empty(kind == RoiKind::Align ? std::vector<int64_t>{0} : shape,
                               input.options().dtype(at::kInt));
  const at::Tensor x = input.to(type).contiguous(), r = rois.to(type).contiguous();
  const hal::RoiPooling pooling = describe_pooling(kind, r, spatial_scale, pooled_height,
                                                   pooled_width, sampling_ratio, aligned);
  if (output.numel() > 0) {
    launch(output,
           hal::RoiPoolForward<kind>{pooling, describe(x), describe(output), describe(index)});
  }
  return {output.to(input.scalar_type()), index};
}

template <RoiKind kind>
at::Tensor pool_backward(const at::Tensor& grad, const at::Tensor& rois, const at::Tensor& index,
                         double spatial_scale, int64_t pooled_height, int64_t pooled_width,
                         int64_t sampling_ratio, bool aligned, int64_t batch_size, int64_t channels,
                         int64_t height, int64_t width) {
  const char* name = hal::RoiPoolBackward<kind>::name;
  const at::ScalarType type = pooling_type(name, grad, rois);
  TORCH_CHECK(grad.dim() == 4, name, ": expected a gradient of shape [K, C, PH, PW], got ",
              grad.sizes());
  TORCH_CHECK(batch_size >= 0 && channels >= 0 && height >= 0 && width >= 0, name,
              ": negative input size");
  const bool sensitive = kind == RoiKind::PsAlign || kind == RoiKind::PsAvgPool;
  const int64_t bins = pooled_height * pooled_width;
  TORCH_CHECK(pooled_height > 0 && pooled_width > 0 && (!sensitive || channels % bins == 0) &&
                  grad.size(0) == rois.size(0) &&
                  grad.size(1) == (sensitive ? channels / bins : channels) &&
                  grad.size(2) == pooled_height && grad.size(3) == pooled_width,
              name, ": a gradient of shape ", grad.sizes(), " does not match ", rois.size(0),
              " rois pooled to ", pooled_height, "x", pooled_width, " from ", channels,
              " channels");
  c10::DeviceGuard guard(common_device({&grad, &rois}));
  const std::vector<int64_t> input_shape{batch_size, channels, height, width};
  if (grad.numel() == 0 || c10::multiply_integers(input_shape) == 0) {
    return at::zeros(input_shape, grad.options());
  }
  at::Tensor grad_input = at::empty(input_shape, grad.options().dtype(type));
  const at::Tensor g = grad.to(type).contiguous(), r = rois.to(type).contiguous();
  at::Tensor i = kind == RoiKind::Align ? at::empty({0}, grad.options().dtype(at::kInt))
                                        : index.to(grad.device(), at::kInt).contiguous();
  TORCH_CHECK(kind == RoiKind::Align || i.sizes() == g.sizes(), name,
              ": expected an index of the gradient's shape ", g.sizes(), ", got ", i.sizes());
  const hal::RoiPooling pooling = describe_pooling(kind, r, spatial_scale, pooled_height,
                                                   pooled_width, sampling_ratio, aligned);
  launch(grad_input,
         hal::RoiPoolBackward<kind>{pooling, describe(g), describe(i), describe(grad_input)});
  return grad_input.to(grad.scalar_type());
}

at::Tensor roi_align(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                     int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                     bool aligned) {
  return std::get<0>(pool_forward<RoiKind::Align>(input, rois, spatial_scale, pooled_height,
                                                  pooled_width, sampling_ratio, aligned));
}

at::Tensor roi_align_backward(const at::Tensor& grad, const at::Tensor& rois, double spatial_scale,
                              int64_t pooled_height, int64_t pooled_width, int64_t batch_size,
                              int64_t channels, int64_t height, int64_t width,
                              int64_t sampling_ratio, bool aligned) {
  return pool_backward<RoiKind::Align>(grad, rois, at::Tensor(), spatial_scale, pooled_height,
                                       pooled_width, sampling_ratio, aligned, batch_size, channels,
                                       height, width);
}

std::tuple<at::Tensor, at::Tensor> roi_pool(const at::Tensor& input, const at::Tensor& rois,
                                            double spatial_scale, int64_t pooled_height,
                                            int64_t pooled_width) {
  return pool_forward<RoiKind::MaxPool>(input, rois, spatial_scale, pooled_height, pooled_width, 0,
                                        false);
}

at::Tensor roi_pool_backward(const at::Tensor& grad, const at::Tensor& rois,
                             const at::Tensor& argmax, double spatial_scale, int64_t pooled_height,
                             int64_t pooled_width, int64_t batch_size, int64_t channels,
                             int64_t height, int64_t width) {
  return pool_backward<RoiKind::MaxPool>(grad, rois, argmax, spatial_scale, pooled_height,
                                         pooled_width, 0, false, batch_size, channels, height,
                                         width);
}

std::tuple<at::Tensor, at::Tensor> ps_roi_align(const at::Tensor& input, const at::Tensor& rois,
                                                double spatial_scale, int64_t pooled_height,
                                                int64_t pooled_width, int64_t sampling_ratio) {
  return pool_forward<RoiKind::PsAlign>(input, rois, spatial_scale, pooled_height, pooled_width,
                                        sampling_ratio, false);
}

at::Tensor ps_roi_align_backward(const at::Tensor& grad, const at::Tensor& rois,
                                 const at::Tensor& channel_mapping, double spatial_scale,
                                 int64_t pooled_height, int64_t pooled_width,
                                 int64_t sampling_ratio, int64_t batch_size, int64_t channels,
                                 int64_t height, int64_t width) {
  return pool_backward<RoiKind::PsAlign>(grad, rois, channel_mapping, spatial_scale, pooled_height,
                                         pooled_width, sampling_ratio, false, batch_size, channels,
                                         height, width);
}

std::tuple<at::Tensor, at::Tensor> ps_roi_pool(const at::Tensor& input, const at::Tensor& rois,
                                               double spatial_scale, int64_t pooled_height,
                                               int64_t pooled_width) {
  return pool_forward<RoiKind::PsAvgPool>(input, rois, spatial_scale, pooled_height, pooled_width,
                                          0, false);
}

at::Tensor ps_roi_pool_backward(const at::Tensor& grad, const at::Tensor& rois,
                                const at::Tensor& channel_mapping, double spatial_scale,
                                int64_t pooled_height, int64_t pooled_width, int64_t batch_size,
                                int64_t channels, int64_t height, int64_t width) {
  return pool_backward<RoiKind::PsAvgPool>(grad, rois, channel_mapping, spatial_scale,
                                           pooled_height, pooled_width, 0, false, batch_size,
                                           channels, height, width);
}

TORCH_LIBRARY_IMPL(torchvision, PrivateUse1, m) {
  m.impl("nms", nms);
  m.impl("roi_align", roi_align);
  m.impl("_roi_align_backward", roi_align_backward);
  m.impl("roi_pool", roi_pool);
  m.impl("_roi_pool_backward", roi_pool_backward);
  m.impl("ps_roi_align", ps_roi_align);
  m.impl("_ps_roi_align_backward", ps_roi_align_backward);
  m.impl("ps_roi_pool", ps_roi_pool);
  m.impl("_ps_roi_pool_backward", ps_roi_pool_backward);
}

}  // namespace
}  // namespace torch_mlu::ops
