#include "mlu_kernels/rnn_cell.h"

#include <cmath>
#include <optional>

#include "scalar_types.h"
#include "vec_math.h"

namespace mlu::kernels {
namespace {

template <typename T>
struct Rows {
  T* data;
  std::int64_t width;
  float get(std::int64_t b, std::int64_t j) const { return convert<float>(data[b * width + j]); }
  void set(std::int64_t b, std::int64_t j, float v) const { data[b * width + j] = convert<T>(v); }
};

template <typename T>
Rows<T> rows(const TensorDesc& d) {
  return {static_cast<T*>(d.data), d.ndim == 2 ? d.sizes[1] : d.sizes[0]};
}

void check_dtypes(std::initializer_list<const TensorDesc*> descs) {
  for (const TensorDesc* d : descs) {
    if (d != nullptr && d->dtype != (*descs.begin())->dtype)
      throw KernelError("rnn cell: operand dtypes differ");
  }
}

const TensorDesc* address_or_null(const std::optional<TensorDesc>& desc) {
  return desc ? &*desc : nullptr;
}

template <typename T>
float bias_at(const std::optional<TensorDesc>& bias, std::int64_t j) {
  return bias ? convert<float>(static_cast<const T*>(bias->data)[j]) : 0.f;
}

}  // namespace

void lstm_cell_forward(const LstmCell& c) {
  check_dtypes({&c.input_gates, &c.hidden_gates, &c.cx, address_or_null(c.input_bias),
                address_or_null(c.hidden_bias), &c.hy, &c.cy, &c.workspace});
  const std::int64_t batch = c.cx.sizes[0], hidden = c.cx.sizes[1];
  visit_dtype(c.cx.dtype, [&](auto t) {
    using T = decltype(t);
    const auto ig = rows<T>(c.input_gates), hg = rows<T>(c.hidden_gates), cx = rows<T>(c.cx);
    const auto hy = rows<T>(c.hy), cy = rows<T>(c.cy), ws = rows<T>(c.workspace);
    for (std::int64_t b = 0; b < batch; ++b) {
      for (std::int64_t j = 0; j < hidden; ++j) {
        float gate[4];
        for (int k = 0; k < 4; ++k) {
          const std::int64_t col = k * hidden + j;
          gate[k] = ig.get(b, col) + hg.get(b, col) + bias_at<T>(c.input_bias, col) +
                    bias_at<T>(c.hidden_bias, col);
        }
        const float i = vsigmoid(gate[0]), f = vsigmoid(gate[1]), g = vtanh(gate[2]),
                    o = vsigmoid(gate[3]);
        const float cell = f * cx.get(b, j) + i * g;
        cy.set(b, j, cell);
        hy.set(b, j, o * vtanh(cell));
        ws.set(b, j, i);
        ws.set(b, hidden + j, f);
        ws.set(b, 2 * hidden + j, g);
        ws.set(b, 3 * hidden + j, o);
      }
    }
  });
}

void lstm_cell_backward(const TensorDesc* grad_hy, const TensorDesc* grad_cy,
                        const TensorDesc& cx_desc, const TensorDesc& cy_desc,
                        const TensorDesc& workspace, const TensorDesc& grad_gates,
                        const TensorDesc& grad_cx) {
  check_dtypes({&cx_desc, grad_hy, grad_cy, &cy_desc, &workspace, &grad_gates, &grad_cx});
  const std::int64_t batch = cx_desc.sizes[0], hidden = cx_desc.sizes[1];
  visit_dtype(cx_desc.dtype, [&](auto t) {
    using T = decltype(t);
    const auto cx = rows<T>(cx_desc), cy = rows<T>(cy_desc), ws = rows<T>(workspace);
    const auto gg = rows<T>(grad_gates), gcx_out = rows<T>(grad_cx);
    for (std::int64_t b = 0; b < batch; ++b) {
      for (std::int64_t j = 0; j < hidden; ++j) {
        const float i = ws.get(b, j), f = ws.get(b, hidden + j), g = ws.get(b, 2 * hidden + j),
                    o = ws.get(b, 3 * hidden + j);
        const float ghy = grad_hy ? rows<T>(*grad_hy).get(b, j) : 0.f;
        const float gcy = grad_cy ? rows<T>(*grad_cy).get(b, j) : 0.f;
        const float tanh_cy = vtanh(cy.get(b, j));
        const float gcx = gcy + ghy * o * (1.f - tanh_cy * tanh_cy);
        gg.set(b, j, gcx * g * i * (1.f - i));
        gg.set(b, hidden + j, gcx * cx.get(b, j) * f * (1.f - f));
        gg.set(b, 2 * hidden + j, gcx * i * (1.f - g * g));
        gg.set(b, 3 * hidden + j, ghy * tanh_cy * o * (1.f - o));
        gcx_out.set(b, j, gcx * f);
      }
    }
  });
}

void gru_cell_forward(const GruCell& c) {
  check_dtypes({&c.input_gates, &c.hidden_gates, &c.hx, address_or_null(c.input_bias),
                address_or_null(c.hidden_bias), &c.hy, &c.workspace});
  const std::int64_t batch = c.hx.sizes[0], hidden = c.hx.sizes[1];
  visit_dtype(c.hx.dtype, [&](auto t) {
    using T = decltype(t);
    const auto ig = rows<T>(c.input_gates), hg = rows<T>(c.hidden_gates), hx = rows<T>(c.hx);
    const auto hy = rows<T>(c.hy), ws = rows<T>(c.workspace);
    auto in = [&](int k, std::int64_t b, std::int64_t j) {
      return ig.get(b, k * hidden + j) + bias_at<T>(c.input_bias, k * hidden + j);
    };
    auto hid = [&](int k, std::int64_t b, std::int64_t j) {
      return hg.get(b, k * hidden + j) + bias_at<T>(c.hidden_bias, k * hidden + j);
    };
    for (std::int64_t b = 0; b < batch; ++b) {
      for (std::int64_t j = 0; j < hidden; ++j) {
        const float r = vsigmoid(in(0, b, j) + hid(0, b, j));
        const float z = vsigmoid(in(1, b, j) + hid(1, b, j));
        const float hn = hid(2, b, j);
        const float n = vtanh(in(2, b, j) + r * hn);
        const float h = hx.get(b, j);
        hy.set(b, j, n + z * (h - n));
        ws.set(b, j, r);
        ws.set(b, hidden + j, z);
        ws.set(b, 2 * hidden + j, n);
        ws.set(b, 3 * hidden + j, h);
        ws.set(b, 4 * hidden + j, hn);
      }
    }
  });
}

void gru_cell_backward(const TensorDesc& grad_hy, const TensorDesc& workspace,
                       const TensorDesc& grad_input_gates, const TensorDesc& grad_hidden_gates,
                       const TensorDesc& grad_hx) {
  check_dtypes({&grad_hy, &workspace, &grad_input_gates, &grad_hidden_gates, &grad_hx});
  const std::int64_t batch = grad_hy.sizes[0], hidden = grad_hy.sizes[1];
  visit_dtype(grad_hy.dtype, [&](auto t) {
    using T = decltype(t);
    const auto go = rows<T>(grad_hy), ws = rows<T>(workspace);
    const auto gi = rows<T>(grad_input_gates), gh = rows<T>(grad_hidden_gates),
               ghx = rows<T>(grad_hx);
    for (std::int64_t b = 0; b < batch; ++b) {
      for (std::int64_t j = 0; j < hidden; ++j) {
        const float r = ws.get(b, j), z = ws.get(b, hidden + j), n = ws.get(b, 2 * hidden + j),
                    h = ws.get(b, 3 * hidden + j), hn = ws.get(b, 4 * hidden + j);
        const float g = go.get(b, j);
        const float dz = g * (h - n) * (1.f - z) * z;
        const float dn = g * (1.f - z) * (1.f - n * n);
        const float dr = dn * hn * (1.f - r) * r;
        gi.set(b, j, dr);
        gi.set(b, hidden + j, dz);
        gi.set(b, 2 * hidden + j, dn);
        gh.set(b, j, dr);
        gh.set(b, hidden + j, dz);
        gh.set(b, 2 * hidden + j, dn * r);
        ghx.set(b, j, g * z);
      }
    }
  });
}

}  // namespace mlu::kernels
