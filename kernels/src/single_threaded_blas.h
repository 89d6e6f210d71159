// OpenBLAS runs single-threaded while a kernel uses it: the library's own threads split the work,
// and OpenBLAS's worker threads spin after every call, taking the core the dispatching thread
// needs. Its thread count is one process-wide setting (openblas_set_num_threads_local sets it too),
// which PyTorch CPU shares, so it is lowered only while any kernel holds this guard and restored
// after; a CPU product running meanwhile is single-threaded for that time.
#pragma once

namespace mlu::kernels {

class SingleThreadedBlas {
 public:
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;
};

}  // namespace mlu::kernels
