// The software MLU's multi-tensor kernels (mlu/ops' Foreach* operations) as fusible work: the
// queue lets a kernel still waiting take in the next one, and the chain then runs a cache-sized
// chunk of each index's tensors through every kernel before moving on. An optimizer step (SGD's
// momentum, gradient and parameter updates; Adam's moments and update) so reads each parameter,
// gradient and state tensor once, instead of once per kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "mlu/hal.h"
#include "mlu/ops.h"

namespace mlu::hal::software {

// One multi-tensor kernel: lists[k][i] is operand k at index i (lists[0] the one written), all of
// one length at an index; apply(operands, i) runs the kernel on the operands at index i, one per
// list. `shared` declares the operands apply reads whole at every index (gradient clipping's 0-d
// factor, which apply holds itself), so that a chain writing them is not fused.
struct MultiTensorKernel {
  std::vector<std::vector<TensorDesc>> lists;
  std::function<void(const TensorDesc* operands, std::size_t index)> apply;
  std::vector<TensorDesc> shared = {};
};

// The lists of a kernel, each copied once (an initializer list would copy them twice).
template <typename... Lists>
std::vector<std::vector<TensorDesc>> operand_lists(const Lists&... lists) {
  std::vector<std::vector<TensorDesc>> out;
  out.reserve(sizeof...(lists));
  (out.push_back(lists), ...);
  return out;
}

class MultiTensorWork final : public FusibleWork {
 public:
  explicit MultiTensorWork(MultiTensorKernel kernel);

  // Takes `next` in when running the chain index by index, chunk by chunk, cannot change a
  // result: the same lengths at every index, and the tensors of one index never written where
  // another index's tensors are, nor partly overlapping those of its own index.
  bool absorb(FusibleWork& next) noexcept override;
  void run() override;

 private:
  struct Span {
    std::uintptr_t begin, end;
    std::size_t index;
    bool written;
  };
  void run_whole_tensors() const;
  void run_chunks(std::int64_t begin, std::int64_t end) const;

  std::vector<MultiTensorKernel> kernels_;
  std::vector<std::int64_t> offsets_;  // where each index's elements start, and their total last
  std::vector<Span> spans_;            // the memory every kernel's operands cover, sorted by start
  // Flat operands without conflicts between indices: the chunked, parallel, fusible form. Other
  // kernels run as before fusion existed, tensor by tensor.
  bool independent_ = false;
};

void launch_multi_tensor(Queue* queue, const char* name, MultiTensorKernel kernel);

}  // namespace mlu::hal::software
