// Strict device memory (MLU_STRICT_DEVICE_MEMORY=1): device addresses fault when the host touches
// them. This names the operator that did it before the process dies.
#pragma once

namespace torch_mlu {

// Installs, once, a SIGSEGV/SIGBUS handler that reports host accesses to protected device memory
// with the PyTorch operator running on the faulting thread, then lets the previous handler
// (Python's faulthandler, or the default action) take the fault. Tracks operators with a
// RecordFunction callback, so only processes in strict mode pay for it.
void report_host_access_faults();

}  // namespace torch_mlu
