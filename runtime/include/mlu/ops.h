// The device contract's operations: what the integration launches on a queue, by operation and
// descriptors, with enqueue(queue, operation). Each family's header defines its operations as
// plain values (descriptors and parameters) and declares their enqueue(). The software MLU
// implements them with its kernel library (kernels/operations); a hardware driver implements
// the same functions with its own kernels.
#pragma once

#include "mlu/ops/attention.h"
#include "mlu/ops/capabilities.h"
#include "mlu/ops/complex.h"
#include "mlu/ops/conv.h"
#include "mlu/ops/copy.h"
#include "mlu/ops/detection.h"
#include "mlu/ops/elementwise.h"
#include "mlu/ops/embedding.h"
#include "mlu/ops/gemm.h"
#include "mlu/ops/generated.h"
#include "mlu/ops/index.h"
#include "mlu/ops/loss.h"
#include "mlu/ops/norm.h"
#include "mlu/ops/operand.h"
#include "mlu/ops/optimizer.h"
#include "mlu/ops/pad.h"
#include "mlu/ops/pool.h"
#include "mlu/ops/random.h"
#include "mlu/ops/reduce.h"
#include "mlu/ops/rnn.h"
#include "mlu/ops/shape.h"
#include "mlu/ops/softmax.h"
#include "mlu/ops/tensor_desc.h"
#include "mlu/ops/upsample.h"
