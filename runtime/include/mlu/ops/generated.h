// Generated kernels' parallel regions. On the software MLU, whose memory the host addresses,
// torch.compile's kernels are Inductor's C++ code run on a queue; their OpenMP constructs
// (GCC's GOMP calls) are bound to these functions, which run them on the device's cores instead
// of libgomp's threads. A hardware driver generates device code instead and has no use for them.
#pragma once

namespace mlu::hal {

// Function pointers with C types only: a generated kernel's library holds a copy of this layout
// and checks its size when it is bound (torch_mlu/_inductor.py).
struct GeneratedCodeTeam {
  void (*parallel)(void (*fn)(void*), void* data, unsigned threads);
  int (*thread_num)();
  bool (*loop_start)(long start, long end, long incr, long* chunk_begin, long* chunk_end);
  bool (*loop_next)(long* chunk_begin, long* chunk_end);
  void (*loop_end)(bool wait);
  void (*barrier)();
  bool (*single_start)();
};
const GeneratedCodeTeam& generated_code_team();

}  // namespace mlu::hal
