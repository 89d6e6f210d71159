// One LSTM layer in one direction over a whole sequence, in one kernel (mlu/ops/rnn.h).
#pragma once

#include "mlu/ops/rnn.h"
#include "mlu_kernels/tensor_desc.h"

namespace mlu::kernels {

void lstm_layer_forward(const LstmLayer& layer, const LstmSequence& seq);

void lstm_layer_backward(const LstmLayer& layer, const LstmSequence& seq,
                         const LstmLayerGrads& grads);

}  // namespace mlu::kernels
