#include "mlu_kernels/lstm.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "convert_block.h"
#include "gemm_onednn.h"
#include "mlu_kernels/build_info.h"
#include "mlu_kernels/gemm.h"
#include "packed_product.h"
#include "scalar_types.h"
#include "single_threaded_blas.h"
#include "vec_math.h"

namespace mlu::kernels {
namespace {

// A row-major [rows, cols] matrix of dtype at data, or its transpose when transposed (then data
// holds [cols, rows]).
TensorDesc matrix_of(DType dtype, const void* data, std::int64_t rows, std::int64_t cols,
                     bool transposed) {
  return matrix_desc(dtype, data, rows, cols, transposed ? rows : cols, transposed);
}

template <typename T>
TensorDesc matrix(const T* data, std::int64_t rows, std::int64_t cols, bool transposed = false) {
  return matrix_of(std::is_same_v<T, float> ? DType::Float32 : DType::Float64, data, rows, cols,
                   transposed);
}

struct Shape {
  std::int64_t steps, batch, input, hidden;
  std::int64_t gates() const { return 4 * hidden; }
  std::int64_t state() const { return batch * hidden; }
  // The time index of the s-th step processed.
  std::int64_t time(std::int64_t s, bool reverse) const { return reverse ? steps - 1 - s : s; }
};

Shape shape_of(const LstmLayer& l) {
  const Shape s{l.input.sizes[0], l.input.sizes[1], l.input.sizes[2], l.h0.sizes[1]};
  const bool ok = l.input.ndim == 3 && l.h0.ndim == 2 && l.h0.sizes[0] == s.batch &&
                  l.w_ih.sizes[0] == s.gates() && l.w_ih.sizes[1] == s.input &&
                  l.w_hh.sizes[0] == s.gates() && l.w_hh.sizes[1] == s.hidden;
  if (!ok) throw KernelError("lstm_layer: operand shapes do not match");
  for (const TensorDesc* d : {&l.w_ih, &l.w_hh, &l.h0, &l.c0}) {
    if (d->dtype != l.input.dtype) throw KernelError("lstm_layer: operand dtypes differ");
  }
  if (l.input.dtype != DType::Float32 && l.input.dtype != DType::Float64) {
    throw KernelError("lstm_layer: float32 or float64 only");
  }
  return s;
}

template <typename T>
const T* at(const TensorDesc& d, std::int64_t offset = 0) {
  return static_cast<const T*>(d.data) + offset;
}
template <typename T>
T* mut(const TensorDesc& d, std::int64_t offset = 0) {
  return static_cast<T*>(d.data) + offset;
}

// One step's cell over [B, H]: gates hold the pre-activations on entry, the activations on exit.
template <typename T>
void cell_forward(std::int64_t batch, std::int64_t hidden, T* __restrict gates,
                  const T* __restrict c_prev, T* __restrict c, T* __restrict h) {
  const std::int64_t H = hidden;
  for (std::int64_t b = 0; b < batch; ++b) {
    T* gate = gates + b * 4 * H;
    const std::int64_t row = b * H;
#pragma omp simd
    for (std::int64_t j = 0; j < H; ++j) {
      const T i = vsigmoid(gate[j]), f = vsigmoid(gate[H + j]), g = vtanh(gate[2 * H + j]);
      const T o = vsigmoid(gate[3 * H + j]);
      const T cell = f * c_prev[row + j] + i * g;
      c[row + j] = cell;
      h[row + j] = o * vtanh(cell);
      gate[j] = i, gate[H + j] = f, gate[2 * H + j] = g, gate[3 * H + j] = o;
    }
  }
}

// to[c * rows + r] = from[r * cols + c], in tiles: a plain loop writes `to` a column at a time and
// misses the cache on every element (an nn.LSTM(128, 128) forward over 32 steps of 8 took 800 us
// with it, 650 us with tiles).
template <typename T>
void transpose(const T* __restrict from, std::int64_t rows, std::int64_t cols, T* __restrict to) {
  constexpr std::int64_t kTile = 16;
  for (std::int64_t r0 = 0; r0 < rows; r0 += kTile) {
    for (std::int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const std::int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
      for (std::int64_t r = r0; r < r1; ++r) {
        for (std::int64_t c = c0; c < c1; ++c) to[c * rows + r] = from[r * cols + c];
      }
    }
  }
}

// Every step's gates before its recurrent product: both biases.
template <typename T>
T* gates_with_biases(const LstmLayer& l, const LstmSequence& q, const Shape& s) {
  const std::int64_t G = s.gates(), rows = s.steps * s.batch;
  T* all_gates = mut<T>(q.gates);
  std::vector<T> bias(G, T(0));
  for (const auto& b : {l.b_ih, l.b_hh}) {
    if (b)
      for (std::int64_t j = 0; j < G; ++j) bias[j] += at<T>(*b)[j];
  }
  for (std::int64_t r = 0; r < rows; ++r) std::copy(bias.begin(), bias.end(), all_gates + r * G);
  return all_gates;
}

// The steps in order, once the input projection is in the gates: add_recurrent(gates, h_prev)
// adds h_prev @ w_hh^T to a step's gates, then the cell runs.
template <typename T, typename AddRecurrent>
void forward_steps(const LstmLayer& l, const LstmSequence& q, const Shape& s,
                   AddRecurrent&& add_recurrent) {
  const std::int64_t G = s.gates(), H = s.hidden, B = s.batch;
  const T* h_prev = at<T>(l.h0);
  const T* c_prev = at<T>(l.c0);
  for (std::int64_t step = 0; step < s.steps; ++step) {
    const std::int64_t t = s.time(step, l.reverse);
    T* gates = mut<T>(q.gates, t * B * G);
    add_recurrent(gates, h_prev);
    T* h = mut<T>(q.output, t * s.state());
    T* c = mut<T>(q.cells, t * s.state());
    cell_forward(B, H, gates, c_prev, c, h);
    h_prev = h;
    c_prev = c;
  }
  std::memcpy(q.hy.data, h_prev, sizeof(T) * s.state());
  std::memcpy(q.cy.data, c_prev, sizeof(T) * s.state());
}

template <typename T>
void forward(const LstmLayer& l, const LstmSequence& q, const Shape& s) {
  const std::int64_t G = s.gates(), H = s.hidden, B = s.batch, rows = s.steps * B;
  // Every step's input projection at once, on top of both biases: gates = b + input @ w_ih^T.
  gemm(matrix(gates_with_biases<T>(l, q, s), rows, G), matrix(at<T>(l.input), rows, s.input),
       matrix(at<T>(l.w_ih), s.input, G, true), 1, 1);
  if constexpr (std::is_same_v<T, float>) {
    const PackedRight w_hh_t(at<float>(l.w_hh), H, G, H, /*transposed=*/true);
    forward_steps<T>(l, q, s, [&](T* gates, const T* h_prev) {
      w_hh_t.multiply(h_prev, H, B, gates, G, /*accumulate=*/true);
    });
  } else {
    // w_hh^T stored as such, once for the sequence: BLAS multiplies a few rows by a transposed
    // matrix much more slowly than by a stored one (8 x 128 by 128 x 512: 22 against 9 us).
    const auto w_hh_t = std::make_unique_for_overwrite<T[]>(H * G);
    transpose(at<T>(l.w_hh), G, H, w_hh_t.get());
    forward_steps<T>(l, q, s, [&](T* gates, const T* h_prev) {
      gemm(matrix(gates, B, G), matrix(h_prev, B, H), matrix(w_hh_t.get(), H, G), 1, 1);
    });
  }
}

// One step's cell backward: dh and dc carry the gradient of the step's h and c in, and of the
// previous step's c out (dh is replaced by the caller); dgates gets the pre-activation gradients.
template <typename T>
void cell_backward(std::int64_t batch, std::int64_t hidden, const T* __restrict gates,
                   const T* __restrict c, const T* __restrict c_prev, const T* __restrict grad_out,
                   const T* __restrict dh, T* __restrict dc, T* __restrict dgates) {
  const std::int64_t H = hidden;
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* gate = gates + b * 4 * H;
    T* dgate = dgates + b * 4 * H;
    const std::int64_t row = b * H;
#pragma omp simd
    for (std::int64_t j = 0; j < H; ++j) {
      const std::int64_t k = row + j;
      const T i = gate[j], f = gate[H + j], g = gate[2 * H + j], o = gate[3 * H + j];
      const T dh_total = dh[k] + (grad_out ? grad_out[k] : T(0));
      const T tanh_c = vtanh(c[k]);
      const T dc_total = dc[k] + dh_total * o * (T(1) - tanh_c * tanh_c);
      dgate[j] = dc_total * g * i * (T(1) - i);
      dgate[H + j] = dc_total * c_prev[k] * f * (T(1) - f);
      dgate[2 * H + j] = dc_total * i * (T(1) - g * g);
      dgate[3 * H + j] = dh_total * tanh_c * o * (T(1) - o);
      dc[k] = dc_total * f;
    }
  }
}

// The steps in reverse order: each step's cell backward writes its gate gradients into
// grad_gates, then propagate(dgates, t, dh) replaces dh by dgates @ w_hh, the previous step's h
// gradient. Leaves the gradients of h0 and c0.
template <typename T, typename Propagate>
void backward_steps(const LstmLayer& l, const LstmSequence& q, const LstmLayerGrads& d,
                    const Shape& s, Propagate&& propagate) {
  const std::int64_t G = s.gates(), H = s.hidden, B = s.batch;
  std::vector<T> dh(s.state(), T(0)), dc(s.state(), T(0));
  if (d.grad_hy) std::copy_n(at<T>(*d.grad_hy), s.state(), dh.begin());
  if (d.grad_cy) std::copy_n(at<T>(*d.grad_cy), s.state(), dc.begin());
  for (std::int64_t step = s.steps - 1; step >= 0; --step) {
    const std::int64_t t = s.time(step, l.reverse);
    const T* c_prev =
        step == 0 ? at<T>(l.c0) : at<T>(q.cells, s.time(step - 1, l.reverse) * s.state());
    const T* gates = at<T>(q.gates, t * B * G);
    const T* c = at<T>(q.cells, t * s.state());
    const T* grad_out = d.grad_output ? at<T>(*d.grad_output, t * s.state()) : nullptr;
    T* dgates = mut<T>(d.grad_gates, t * B * G);
    cell_backward(B, H, gates, c, c_prev, grad_out, dh.data(), dc.data(), dgates);
    propagate(static_cast<const T*>(dgates), t, dh.data());
  }
  std::copy(dh.begin(), dh.end(), mut<T>(d.grad_h0));
  std::copy(dc.begin(), dc.end(), mut<T>(d.grad_c0));
}

// The bias gradient: the gate gradients summed over every step and batch row.
template <typename T>
void bias_gradient(const LstmLayerGrads& d, const Shape& s) {
  const std::int64_t G = s.gates(), rows = s.steps * s.batch;
  const T* dgates = at<T>(d.grad_gates);
  T* grad_bias = mut<T>(d.grad_bias);
  std::fill_n(grad_bias, G, T(0));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < G; ++j) grad_bias[j] += dgates[r * G + j];
  }
}

template <typename T>
void backward(const LstmLayer& l, const LstmSequence& q, const LstmLayerGrads& d, const Shape& s) {
  const std::int64_t G = s.gates(), H = s.hidden, B = s.batch, rows = s.steps * B;
  if constexpr (std::is_same_v<T, float>) {
    const PackedRight w_hh(at<float>(l.w_hh), G, H, H, /*transposed=*/false);
    backward_steps<T>(l, q, d, s, [&](const T* dgates, std::int64_t, T* dh) {
      w_hh.multiply(dgates, G, B, dh, H, /*accumulate=*/false);
    });
  } else {
    backward_steps<T>(l, q, d, s, [&](const T* dgates, std::int64_t, T* dh) {
      gemm(matrix(dh, B, H), matrix(dgates, B, G), matrix(at<T>(l.w_hh), G, H), 1, 0);
    });
  }
  const T* dgates = at<T>(d.grad_gates);
  gemm(matrix(mut<T>(d.grad_input), rows, s.input), matrix(dgates, rows, G),
       matrix(at<T>(l.w_ih), G, s.input), 1, 0);
  gemm(matrix(mut<T>(d.grad_w_ih), G, s.input), matrix(dgates, G, rows, true),
       matrix(at<T>(l.input), rows, s.input), 1, 0);
  // grad_w_hh = sum over steps of dgates^T @ (h before the step): the first step processed saw
  // h0, every other one the output of the step before it, which is a contiguous block.
  const std::int64_t first = s.time(0, l.reverse);
  gemm(matrix(mut<T>(d.grad_w_hh), G, H), matrix(dgates + first * B * G, G, B, true),
       matrix(at<T>(l.h0), B, H), 1, 0);
  if (s.steps > 1) {
    const std::int64_t later = l.reverse ? 0 : 1, previous = l.reverse ? 1 : 0;
    gemm(matrix(mut<T>(d.grad_w_hh), G, H), matrix(dgates + later * B * G, G, rows - B, true),
         matrix(at<T>(q.output, previous * s.state()), rows - B, H), 1, 1);
  }
  bias_gradient<T>(d, s);
}

// A float32 layer's products in 16 bits (LstmLayer::products): each operand is rounded once into a
// 16-bit copy and the products accumulate in float32 on AMX, into the float32 gates and gradients.
// The steps' products, one after another, are most of a small LSTM's time: on an AMX Xeon
// lstm_lm's (8 x 128 by 128 x 512) took 6 us this way against about 9 in float32.
class Products16 {
 public:
  explicit Products16(DType dtype) : dtype_(dtype) {}

  // A 16-bit copy of n floats.
  std::vector<std::uint16_t> rounded(const float* from, std::int64_t n) const {
    std::vector<std::uint16_t> to(n);
    round_into(from, n, to.data());
    return to;
  }
  void round_into(const float* from, std::int64_t n, std::uint16_t* to) const {
    if (dtype_ == DType::BFloat16)
      convert_block(reinterpret_cast<BFloat16*>(to), from, n);
    else
      convert_block(reinterpret_cast<Half*>(to), from, n);
  }
  TensorDesc matrix(const std::uint16_t* data, std::int64_t rows, std::int64_t cols,
                    bool transposed = false) const {
    return matrix_of(dtype_, data, rows, cols, transposed);
  }

  // out = a16 @ b16 (out += when accumulate); where oneDNN cannot, the same product of the float32
  // operands a and b.
  void product(const TensorDesc& out, const TensorDesc& a16, const TensorDesc& b16,
               const TensorDesc& a, const TensorDesc& b, bool accumulate) const {
    if (!amx_product(out, a16, b16, accumulate)) gemm(out, a, b, 1, accumulate ? 1 : 0);
  }

 private:
  DType dtype_;
};

bool products_in_16_bits(const LstmLayer& l) {
  if (l.input.dtype != DType::Float32 || l.products == DType::Float32) return false;
  if (l.products != DType::BFloat16 && l.products != DType::Float16) {
    throw KernelError("lstm_layer: products must be float32, float16 or bfloat16");
  }
  return amx_products(l.products);
}

void forward16(const LstmLayer& l, const LstmSequence& q, const Shape& s) {
  const Products16 p(l.products);
  const std::int64_t G = s.gates(), H = s.hidden, B = s.batch, rows = s.steps * B;
  float* all_gates = gates_with_biases<float>(l, q, s);
  const std::vector<std::uint16_t> input16 = p.rounded(at<float>(l.input), rows * s.input),
                                   w_ih16 = p.rounded(at<float>(l.w_ih), G * s.input),
                                   w_hh16 = p.rounded(at<float>(l.w_hh), G * H);
  p.product(matrix(all_gates, rows, G), p.matrix(input16.data(), rows, s.input),
            p.matrix(w_ih16.data(), s.input, G, true), matrix(at<float>(l.input), rows, s.input),
            matrix(at<float>(l.w_ih), s.input, G, true), true);
  std::vector<std::uint16_t> h16(s.state());
  const auto step_product =
      AmxStepProduct::make(matrix(all_gates, B, G), p.matrix(h16.data(), B, H),
                           p.matrix(w_hh16.data(), H, G, true), true);
  forward_steps<float>(l, q, s, [&](float* gates, const float* h_prev) {
    if (step_product) {
      p.round_into(h_prev, s.state(), h16.data());
      step_product->run(gates, h16.data(), w_hh16.data());
    } else {
      gemm(matrix(gates, B, G), matrix(h_prev, B, H), matrix(at<float>(l.w_hh), H, G, true), 1, 1);
    }
  });
}

void backward16(const LstmLayer& l, const LstmSequence& q, const LstmLayerGrads& d,
                const Shape& s) {
  const Products16 p(l.products);
  const std::int64_t G = s.gates(), H = s.hidden, B = s.batch, rows = s.steps * B;
  const std::vector<std::uint16_t> w_hh16 = p.rounded(at<float>(l.w_hh), G * H);
  std::vector<std::uint16_t> dgates16(rows * G);  // every step's, rounded as they are made
  // Planned from the layouts alone (dh's [B, H] rows); run() gives the addresses.
  const auto step_product =
      AmxStepProduct::make(matrix(static_cast<const float*>(nullptr), B, H),
                           p.matrix(dgates16.data(), B, G), p.matrix(w_hh16.data(), G, H), false);
  backward_steps<float>(l, q, d, s, [&](const float* dgates, std::int64_t t, float* dh) {
    std::uint16_t* step16 = dgates16.data() + t * B * G;
    p.round_into(dgates, B * G, step16);
    if (step_product)
      step_product->run(dh, step16, w_hh16.data());
    else
      gemm(matrix(dh, B, H), matrix(dgates, B, G), matrix(at<float>(l.w_hh), G, H), 1, 0);
  });
  const float* dgates = at<float>(d.grad_gates);
  const std::vector<std::uint16_t> w_ih16 = p.rounded(at<float>(l.w_ih), G * s.input),
                                   input16 = p.rounded(at<float>(l.input), rows * s.input),
                                   h0_16 = p.rounded(at<float>(l.h0), s.state()),
                                   output16 = p.rounded(at<float>(q.output), rows * H);
  p.product(matrix(mut<float>(d.grad_input), rows, s.input), p.matrix(dgates16.data(), rows, G),
            p.matrix(w_ih16.data(), G, s.input), matrix(dgates, rows, G),
            matrix(at<float>(l.w_ih), G, s.input), false);
  p.product(matrix(mut<float>(d.grad_w_ih), G, s.input), p.matrix(dgates16.data(), G, rows, true),
            p.matrix(input16.data(), rows, s.input), matrix(dgates, G, rows, true),
            matrix(at<float>(l.input), rows, s.input), false);
  // grad_w_hh as in backward(): the first step processed saw h0, the others the output before.
  const std::int64_t first = s.time(0, l.reverse);
  p.product(matrix(mut<float>(d.grad_w_hh), G, H),
            p.matrix(dgates16.data() + first * B * G, G, B, true), p.matrix(h0_16.data(), B, H),
            matrix(dgates + first * B * G, G, B, true), matrix(at<float>(l.h0), B, H), false);
  if (s.steps > 1) {
    const std::int64_t later = l.reverse ? 0 : 1, previous = l.reverse ? 1 : 0;
    p.product(matrix(mut<float>(d.grad_w_hh), G, H),
              p.matrix(dgates16.data() + later * B * G, G, rows - B, true),
              p.matrix(output16.data() + previous * s.state(), rows - B, H),
              matrix(dgates + later * B * G, G, rows - B, true),
              matrix(at<float>(q.output, previous * s.state()), rows - B, H), true);
  }
  bias_gradient<float>(d, s);
}

}  // namespace

std::string lstm16_path(bool bfloat16) {
  return amx_products(bfloat16 ? DType::BFloat16 : DType::Float16) ? "AMX" : "float32";
}

void lstm_layer_forward(const LstmLayer& layer, const LstmSequence& seq) {
  const Shape s = shape_of(layer);
  const SingleThreadedBlas single_threaded;  // once for the whole sequence, not per step
  if (products_in_16_bits(layer))
    forward16(layer, seq, s);
  else if (layer.input.dtype == DType::Float32)
    forward<float>(layer, seq, s);
  else
    forward<double>(layer, seq, s);
}

void lstm_layer_backward(const LstmLayer& layer, const LstmSequence& seq,
                         const LstmLayerGrads& grads) {
  const Shape s = shape_of(layer);
  const SingleThreadedBlas single_threaded;
  if (products_in_16_bits(layer))
    backward16(layer, seq, grads, s);
  else if (layer.input.dtype == DType::Float32)
    backward<float>(layer, seq, grads, s);
  else
    backward<double>(layer, seq, grads, s);
}

}  // namespace mlu::kernels
