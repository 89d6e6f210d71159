// The device contract's operations: what the integration launches on a queue, by operation and
// descriptors, with enqueue(queue, operation). Each family's header defines its operations as
// plain values (descriptors and parameters) and declares their enqueue(). The software MLU
// implements them with its kernel library (kernels/operations); a hardware driver implements
// the same functions with its own kernels.
#pragma once

#include "mlu/ops/copy.h"
#include "mlu/ops/elementwise.h"
#include "mlu/ops/operand.h"
#include "mlu/ops/tensor_desc.h"
