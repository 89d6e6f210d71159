// Non-maximum suppression, greedy in score order as torchvision's CPU kernel is.
#include <algorithm>
#include <string>
#include <vector>

#include "float_operands.h"
#include "mlu_kernels/detection.h"

namespace mlu::kernels {
namespace {

template <typename T>
std::int64_t suppress(const TensorDesc& boxes, const std::int64_t* order, double threshold,
                      std::int64_t* keep) {
  const std::int64_t count = boxes.sizes[0], row = boxes.strides[0], col = boxes.strides[1];
  const T* b = static_cast<const T*>(boxes.data);
  const auto coord = [&](std::int64_t i, int j) { return b[i * row + j * col]; };
  std::vector<T> area(count);
  for (std::int64_t i = 0; i < count; ++i) {
    area[i] = (coord(i, 2) - coord(i, 0)) * (coord(i, 3) - coord(i, 1));
  }
  std::vector<unsigned char> suppressed(count, 0);
  std::int64_t kept = 0;
  for (std::int64_t a = 0; a < count; ++a) {
    const std::int64_t i = order[a];
    if (i < 0 || i >= count) {
      throw KernelError("nms: order entry " + std::to_string(i) + " is not a box index");
    }
    if (suppressed[i]) continue;
    keep[kept++] = i;
    for (std::int64_t z = a + 1; z < count; ++z) {
      const std::int64_t j = order[z];
      if (j < 0 || j >= count || suppressed[j]) continue;
      const T w =
          std::max(T(0), std::min(coord(i, 2), coord(j, 2)) - std::max(coord(i, 0), coord(j, 0)));
      const T h =
          std::max(T(0), std::min(coord(i, 3), coord(j, 3)) - std::max(coord(i, 1), coord(j, 1)));
      const T inter = w * h;
      if (inter / (area[i] + area[j] - inter) > threshold) suppressed[j] = 1;
    }
  }
  return kept;
}

}  // namespace

void nms(const TensorDesc& boxes, const TensorDesc& order, double iou_threshold,
         const TensorDesc& keep, const TensorDesc& kept) {
  if (boxes.ndim != 2 || boxes.sizes[1] != 4 || order.ndim != 1 ||
      order.sizes[0] != boxes.sizes[0] || order.dtype != DType::Int64 || order.strides[0] != 1 ||
      keep.dtype != DType::Int64 || keep.numel() != boxes.sizes[0] || keep.strides[0] != 1 ||
      kept.dtype != DType::Int64) {
    throw KernelError("nms: expected boxes [K, 4], an int64 order [K] and int64 outputs");
  }
  const auto* ranked = static_cast<const std::int64_t*>(order.data);
  auto* kept_indices = static_cast<std::int64_t*>(keep.data);
  std::int64_t count = 0;
  by_float_type(boxes.dtype, "nms", [&]<typename T>(T) {
    count = suppress<T>(boxes, ranked, iou_threshold, kept_indices);
  });
  *static_cast<std::int64_t*>(kept.data) = count;
}

}  // namespace mlu::kernels
