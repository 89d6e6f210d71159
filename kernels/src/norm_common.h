// Shared by the normalisation kernels: the compute type, floating dtype dispatch, and reading
// per-channel vectors of any dtype.
#pragma once

#include <string>
#include <type_traits>
#include <vector>

#include "mlu_kernels/tensor_desc.h"
#include "scalar_types.h"

namespace mlu::kernels {

// 16-bit floating types compute in float.
template <typename T>
using Compute = std::conditional_t<std::is_same_v<T, double>, double, float>;

// The n elements of a 1-D vector as C, or n times absent when there is none.
template <typename C>
std::vector<C> load_vector(const std::optional<TensorDesc>& d, std::int64_t n, C absent) {
  std::vector<C> v(n, absent);
  if (!d) return v;
  visit_dtype(d->dtype, [&](auto tag) {
    using T = decltype(tag);
    for (std::int64_t i = 0; i < n; ++i)
      v[i] = convert<C>(static_cast<const T*>(d->data)[i * d->strides[0]]);
  });
  return v;
}

template <typename C>
void store_vector(const TensorDesc& d, const std::vector<C>& v) {
  visit_dtype(d.dtype, [&](auto tag) {
    using T = decltype(tag);
    for (std::size_t i = 0; i < v.size(); ++i)
      static_cast<T*>(d.data)[i * d.strides[0]] = convert<T>(v[i]);
  });
}

}  // namespace mlu::kernels
