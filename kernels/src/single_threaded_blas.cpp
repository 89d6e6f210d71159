#include "single_threaded_blas.h"

#include <cblas.h>

#include <mutex>

namespace mlu::kernels {
namespace {

std::mutex g_mutex;
int g_holders = 0;
int g_saved = 1;

}  // namespace

SingleThreadedBlas::SingleThreadedBlas() {
  std::lock_guard lock(g_mutex);
  if (g_holders++ > 0) return;
  g_saved = openblas_get_num_threads();
  if (g_saved != 1) openblas_set_num_threads(1);
}

SingleThreadedBlas::~SingleThreadedBlas() {
  std::lock_guard lock(g_mutex);
  if (--g_holders > 0) return;
  if (g_saved != 1) openblas_set_num_threads(g_saved);
}

}  // namespace mlu::kernels
