// The patches a convolution reads, laid out as a matrix (im2col), and their adjoint (col2im): row
// c * taps + tap of the matrix holds what kernel tap `tap` of channel c reads at every output
// position of every sample, zero where it reads padding.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "conv_internal.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

// The geometry, spatial dims padded in front to three (size 1, kernel 1).
struct Patches {
  std::int64_t batch = 0, channels = 0, taps = 1;
  std::int64_t rows = 0;     // channels * taps: a patch
  std::int64_t columns = 0;  // batch * output positions
  std::int64_t positions = 1;
  std::int64_t batch_stride = 0, channel_stride = 0;  // the image's, in elements
  std::array<std::int64_t, 3> in{1, 1, 1}, in_stride{0, 0, 0}, out{1, 1, 1}, kernel{1, 1, 1},
      stride{1, 1, 1}, dilation{1, 1, 1}, pad{0, 0, 0};
};

// The patches of the direct convolution y = x (*) w.
Patches patches_of(const DirectConv& c, const TensorDesc& x, const TensorDesc& w,
                   const TensorDesc& y);

// Where element (row, sample, position) of a patch matrix lives, in elements from its start.
struct PatchLayout {
  std::int64_t row, sample, position;
};

// For each tap and output position, where the tap reads in one channel of one sample of the
// image, or -1 for padding: [taps][positions].
std::vector<std::int64_t> tap_offsets(const Patches& p);

// The patch matrix from the image (both of one floating dtype, or bool); it is only written.
void gather_patches(const Patches& p, const std::vector<std::int64_t>& offsets, DType dtype,
                    const void* image, void* matrix, PatchLayout layout);

// The image (only written) as the sum of every patch matrix element where it was read. A
// channel's rows are added in order by one thread: the result does not depend on the threads.
void scatter_patches(const Patches& p, const std::vector<std::int64_t>& offsets, DType dtype,
                     const void* matrix, PatchLayout layout, void* image);

}  // namespace mlu::kernels
