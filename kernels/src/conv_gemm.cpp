// Convolutions as matrix products on the input's patches (im2col): one product with the weights
// in PyTorch's own [C_y, C_x * k] layout does a pass. oneDNN's direct convolutions reorder the
// weights into blocked layouts on every call, and the weight gradient back, which for layers whose
// weights outweigh their activations costs more than the arithmetic: the weight gradient of
// ResNet-18's 512-channel 3 x 3 layer at 1 x 1 outputs (batch 16) took 1378 us through oneDNN and
// 468 us as a product. MLU_CONV_GEMM=auto takes the products where the weights outweigh the
// patches (convolution_as_gemm).
#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "activation_math.h"
#include "conv_internal.h"
#include "float32_copy.h"
#include "gemm_onednn.h"
#include "mlu_kernels/conv.h"
#include "mlu_kernels/copy.h"
#include "mlu_kernels/gemm.h"
#include "mlu_kernels/parallel.h"
#include "patches.h"

namespace mlu::kernels {
namespace {

// A float32 buffer of the calling thread's, given back when done.
class Scratch {
 public:
  explicit Scratch(std::int64_t n) : buffer_(Float32Buffers::take(static_cast<std::size_t>(n))) {}
  ~Scratch() { Float32Buffers::give_back(std::move(buffer_)); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  float* data() const { return buffer_.data.get(); }

 private:
  Float32Buffers::Buffer buffer_;
};

// y's element offsets (in elements) for each output position of one sample and channel.
std::vector<std::int64_t> position_offsets(const Patches& p, const TensorDesc& y) {
  std::array<std::int64_t, 3> stride{0, 0, 0};
  for (int i = 2; i < y.ndim; ++i) stride[3 - (y.ndim - i)] = y.strides[i];
  std::vector<std::int64_t> offsets(p.positions);
  for (std::int64_t o0 = 0, l = 0; o0 < p.out[0]; ++o0) {
    for (std::int64_t o1 = 0; o1 < p.out[1]; ++o1) {
      for (std::int64_t o2 = 0; o2 < p.out[2]; ++o2, ++l)
        offsets[l] = o0 * stride[0] + o1 * stride[1] + o2 * stride[2];
    }
  }
  return offsets;
}

// Calls f(o, n, y_offset, column) for each element of y: channel o of sample n at a position whose
// column in a [C_y, columns] matrix is `column`, in parallel over channels.
template <typename F>
void for_each_output(const Patches& p, const TensorDesc& y, F&& f) {
  const std::vector<std::int64_t> at = position_offsets(p, y);
  const std::int64_t channels = y.sizes[1];
  parallel_for(channels, std::max<std::int64_t>(1, kParallelGrain / p.columns),
               [&](std::int64_t first, std::int64_t last) {
                 for (std::int64_t o = first; o < last; ++o) {
                   for (std::int64_t n = 0; n < p.batch; ++n) {
                     const std::int64_t base = n * y.strides[0] + o * y.strides[1];
                     f(o, base, at.data(), o * p.columns + n * p.positions);
                   }
                 }
               });
}

// The patch matrix [rows, columns] of the products: a column per sample and output position.
PatchLayout by_column(const Patches& p) { return {p.columns, p.positions, 1}; }

const float* floats(const TensorDesc& d) { return static_cast<const float*>(d.data); }
float* mutable_floats(const TensorDesc& d) { return static_cast<float*>(d.data); }

// The patch matrix takes at most this many floats (64 MiB): past it the direct convolution's
// reorders are the smaller cost.
constexpr std::int64_t kMaxPatchFloats = std::int64_t{1} << 24;

// One patch layout serves all three passes; each product reads at most one operand transposed.
// On ResNet-18's layers (37.7M multiply-adds, 16 to 1024 columns) these forms took at most a fifth
// longer than the fastest arrangement of the same product.
void forward(const Patches& p, const DirectConv& c, const TensorDesc& x, const TensorDesc& w,
             const TensorDesc& y, const TensorDesc* bias) {
  const std::vector<std::int64_t> offsets = tap_offsets(p);
  const Scratch cols(p.rows * p.columns);
  gather_patches(p, offsets, DType::Float32, x.data, cols.data(), by_column(p));
  const std::int64_t out_channels = y.sizes[1];
  const Scratch out(out_channels * p.columns);
  // out [C_y, columns] = w [C_y, rows] @ cols [rows, columns]
  gemm(matrix_desc(DType::Float32, out.data(), out_channels, p.columns, p.columns, false),
       matrix_desc(DType::Float32, w.data, out_channels, p.rows, p.rows, false),
       matrix_desc(DType::Float32, cols.data(), p.rows, p.columns, p.columns, false), 1, 0);
  float* to = mutable_floats(y);
  for_each_output(
      p, y, [&](std::int64_t o, std::int64_t base, const std::int64_t* at, std::int64_t column) {
        const float* from = out.data() + column;
        const float b = bias ? floats(*bias)[o * bias->strides[0]] : 0.f;
        for (std::int64_t l = 0; l < p.positions; ++l) {
          const float v = from[l] + b;
          to[base + at[l]] = c.relu ? relu(v) : v;
        }
      });
}

// y's gradient as a [C_y, columns] matrix.
void read_by_channel(const Patches& p, const TensorDesc& y, float* out) {
  const float* from = floats(y);
  for_each_output(
      p, y, [&](std::int64_t, std::int64_t base, const std::int64_t* at, std::int64_t column) {
        for (std::int64_t l = 0; l < p.positions; ++l) out[column + l] = from[base + at[l]];
      });
}

// What both backward passes start from: y's gradient as a [C_y, columns] matrix, and room for the
// patch matrix.
struct BackwardOperands {
  BackwardOperands(const Patches& p, const TensorDesc& y)
      : out_channels(y.sizes[1]), dy(out_channels * p.columns), cols(p.rows * p.columns) {
    read_by_channel(p, y, dy.data());
  }
  std::int64_t out_channels;
  Scratch dy, cols;
};

void backward_data(const Patches& p, const TensorDesc& x, const TensorDesc& w,
                   const TensorDesc& y) {
  const BackwardOperands b(p, y);
  // cols [rows, columns] = w^T [rows, C_y] @ dy [C_y, columns]
  gemm(matrix_desc(DType::Float32, b.cols.data(), p.rows, p.columns, p.columns, false),
       matrix_desc(DType::Float32, w.data, p.rows, b.out_channels, p.rows, true),
       matrix_desc(DType::Float32, b.dy.data(), b.out_channels, p.columns, p.columns, false), 1, 0);
  scatter_patches(p, tap_offsets(p), DType::Float32, b.cols.data(), by_column(p), x.data);
}

bool is_contiguous(const TensorDesc& d) {
  std::int64_t stride = 1;
  for (int i = d.ndim - 1; i >= 0; --i) {
    if (d.sizes[i] != 1 && d.strides[i] != stride) return false;
    stride *= d.sizes[i];
  }
  return true;
}

TensorDesc contiguous_view(const TensorDesc& d, void* data) {
  TensorDesc v = d;
  v.data = data;
  std::int64_t stride = 1;
  for (int i = d.ndim - 1; i >= 0; --i) {
    v.strides[i] = stride;
    stride *= d.sizes[i];
  }
  return v;
}

void backward_weights(const Patches& p, const TensorDesc& x, const TensorDesc& w,
                      const TensorDesc& y) {
  const BackwardOperands b(p, y);
  gather_patches(p, tap_offsets(p), DType::Float32, x.data, b.cols.data(), by_column(p));
  const bool direct = is_contiguous(w);
  std::optional<Scratch> staged;
  if (!direct) staged.emplace(w.numel());
  float* out = direct ? mutable_floats(w) : staged->data();
  // w [C_y, rows] = dy [C_y, columns] @ cols^T [columns, rows]
  gemm(matrix_desc(DType::Float32, out, b.out_channels, p.rows, p.rows, false),
       matrix_desc(DType::Float32, b.dy.data(), b.out_channels, p.columns, p.columns, false),
       matrix_desc(DType::Float32, b.cols.data(), p.columns, p.rows, p.columns, true), 1, 0);
  if (!direct) copy(w, contiguous_view(w, out));
}

enum class ConvGemm { Auto, Always, Never };

ConvGemm conv_gemm_policy() {
  static const ConvGemm policy = [] {
    try {
      const std::string name = conv_gemm_policy_from_environment();
      return name == "always"  ? ConvGemm::Always
             : name == "never" ? ConvGemm::Never
                               : ConvGemm::Auto;
    } catch (const std::invalid_argument&) {
      return ConvGemm::Auto;  // csrc reports the bad value as a ValueError at first device use
    }
  }();
  return policy;
}

// Where "auto" runs a layer as products: where its weights outnumber the patch matrix's elements
// twice over, so that reordering the weights is the direct convolution's main cost. On
// resnet18_small's layers (batch 16) timing each way picked the same ones but for a few where the
// two were within 10% and the choice flipped from run to run; a rule gives the same numbers in
// every run, as PyTorch's own convolution choices (cudnn.benchmark off) do.
bool weights_outweigh_patches(const TensorDesc& w, const Patches& p) {
  return w.numel() >= 2 * p.rows * p.columns;
}

}  // namespace

std::string conv_gemm_policy_from_environment() {
  const char* env = std::getenv("MLU_CONV_GEMM");
  if (env == nullptr) return "auto";
  const std::string value = env;
  if (value == "auto" || value == "always" || value == "never") return value;
  throw std::invalid_argument("MLU_CONV_GEMM must be auto, always or never, got '" + value + "'");
}

void gemm_convolution(ConvPass pass, const DirectConv& conv, const TensorDesc& x,
                      const TensorDesc& w, const TensorDesc& y, const TensorDesc* bias) {
  // 16-bit operands compute as float32 copies, as oneDNN's widened convolutions do.
  if (x.dtype != DType::Float32)
    return convolution_on_float32_copies(gemm_convolution, pass, conv, x, w, y, bias);
  const Patches p = patches_of(conv, x, w, y);
  // The products read w as a [C_y, rows] matrix.
  std::optional<Float32Copy> packed_w;
  if (pass != ConvPass::BackwardWeights && !is_contiguous(w)) packed_w.emplace(w, true);
  const TensorDesc& weights = packed_w ? packed_w->desc : w;
  switch (pass) {
    case ConvPass::Forward: return forward(p, conv, x, weights, y, bias);
    case ConvPass::BackwardData: return backward_data(p, x, weights, y);
    case ConvPass::BackwardWeights: return backward_weights(p, x, w, y);
  }
}

bool convolution_as_gemm(const DirectConv& conv, const TensorDesc& x, const TensorDesc& w,
                         const TensorDesc& y) {
  // 16-bit layers too, widened, unless MLU_CONV16 asks for oneDNN's 16-bit kernels wherever it
  // has them: for these layers those were 2-3x slower than widening on AMX.
  static const bool native16 = [] {
    try {
      return conv16_policy_from_environment() == "native";
    } catch (const std::invalid_argument&) {
      return false;  // csrc reports the bad value
    }
  }();
  const bool wide = x.dtype == DType::Float32,
             narrow = (x.dtype == DType::Float16 || x.dtype == DType::BFloat16) && !native16;
  if (!(wide || narrow) || conv.groups != 1) return false;
  const Patches p = patches_of(conv, x, w, y);
  if (p.rows * p.columns > kMaxPatchFloats) return false;
  switch (conv_gemm_policy()) {
    case ConvGemm::Never: return false;
    case ConvGemm::Always: return true;
    case ConvGemm::Auto: return weights_outweigh_patches(w, p);
  }
  return false;
}

}  // namespace mlu::kernels
