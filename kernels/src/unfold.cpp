// torch's im2col and col2im (nn.Unfold, nn.Fold) on the patch gathering that convolutions use.
#include "mlu_kernels/conv.h"
#include "patches.h"

namespace mlu::kernels {
namespace {

// The patches of `image` under the geometry; columns gives the output positions' count.
Patches image_patches(const PatchGeometry& g, const TensorDesc& image, const TensorDesc& columns) {
  if (image.ndim != 4 || columns.ndim != 3 || image.dtype != columns.dtype)
    throw KernelError("im2col: image [N, C, H, W] and columns [N, C * KH * KW, L] of one dtype");
  DirectConv conv;
  TensorDesc w, y;
  w.sizes[2] = g.kernel[0];
  w.sizes[3] = g.kernel[1];
  for (int d = 0; d < 2; ++d) {
    conv.stride[d] = g.stride[d];
    conv.dilation[d] = g.dilation[d];
    conv.pad_before[d] = conv.pad_after[d] = g.padding[d];
    const std::int64_t extent = g.dilation[d] * (g.kernel[d] - 1) + 1;
    y.sizes[d + 2] = (image.sizes[d + 2] + 2 * g.padding[d] - extent) / g.stride[d] + 1;
  }
  const Patches p = patches_of(conv, image, w, y);
  if (columns.sizes[0] != p.batch || columns.sizes[1] != p.rows || columns.sizes[2] != p.positions)
    throw KernelError("im2col: the columns' shape does not match the image and the geometry");
  return p;
}

PatchLayout layout_of(const TensorDesc& columns) {
  return {columns.strides[1], columns.strides[0], columns.strides[2]};
}

}  // namespace

void im2col(const PatchGeometry& geometry, const TensorDesc& columns, const TensorDesc& image) {
  const Patches p = image_patches(geometry, image, columns);
  if (columns.numel() == 0) return;
  gather_patches(p, tap_offsets(p), image.dtype, image.data, columns.data, layout_of(columns));
}

void col2im(const PatchGeometry& geometry, const TensorDesc& image, const TensorDesc& columns) {
  const Patches p = image_patches(geometry, image, columns);
  if (image.numel() == 0) return;
  scatter_patches(p, tap_offsets(p), image.dtype, columns.data, layout_of(columns), image.data);
}

}  // namespace mlu::kernels
