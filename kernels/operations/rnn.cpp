#include "launch.h"
#include "mlu_kernels/lstm.h"
#include "mlu_kernels/rnn_cell.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::address_or_null;
using software::launch;

void enqueue(Queue* queue, const LstmCell& op) {
  launch(queue, op, [](LstmCell& o) { k::lstm_cell_forward(o); });
}
void enqueue(Queue* queue, const LstmCellBackward& op) {
  launch(queue, op, [](LstmCellBackward& o) {
    k::lstm_cell_backward(address_or_null(o.grad_hy), address_or_null(o.grad_cy), o.cx, o.cy,
                          o.workspace, o.grad_gates, o.grad_cx);
  });
}
void enqueue(Queue* queue, const GruCell& op) {
  launch(queue, op, [](GruCell& o) { k::gru_cell_forward(o); });
}
void enqueue(Queue* queue, const GruCellBackward& op) {
  launch(queue, op, [](GruCellBackward& o) {
    k::gru_cell_backward(o.grad_hy, o.workspace, o.grad_input_gates, o.grad_hidden_gates,
                         o.grad_hx);
  });
}

void enqueue(Queue* queue, const LstmLayerForward& op) {
  launch(queue, op, [](LstmLayerForward& o) { k::lstm_layer_forward(o.layer, o.sequence); });
}
void enqueue(Queue* queue, const LstmLayerBackward& op) {
  launch(queue, op,
         [](LstmLayerBackward& o) { k::lstm_layer_backward(o.layer, o.sequence, o.grads); });
}

}  // namespace mlu::hal
