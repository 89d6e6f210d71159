#include "mlu_kernels/conv.h"

#include "launch.h"
#include "mlu_kernels/deform_conv.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::address_or_null;
using software::launch;

void enqueue(Queue* queue, const Convolution& op) {
  launch(queue, op, [](Convolution& o) {
    k::convolution(o.params, o.out, o.in, o.weight, address_or_null(o.bias));
  });
}
void enqueue(Queue* queue, const ConvolutionBackward& op) {
  launch(queue, op, [](ConvolutionBackward& o) {
    k::convolution_backward(o.params, o.grad_out, o.in, o.weight, address_or_null(o.grad_in),
                            address_or_null(o.grad_weight), address_or_null(o.grad_bias));
  });
}

void enqueue(Queue* queue, const Im2col& op) {
  launch(queue, op, [](Im2col& o) { k::im2col(o.geometry, o.columns, o.image); });
}
void enqueue(Queue* queue, const Col2im& op) {
  launch(queue, op, [](Col2im& o) { k::col2im(o.geometry, o.image, o.columns); });
}

void enqueue(Queue* queue, const DeformIm2col& op) {
  launch(queue, op, [](DeformIm2col& o) { k::deform_im2col(o.conv, o.columns); });
}
void enqueue(Queue* queue, const DeformCol2im& op) {
  launch(queue, op,
         [](DeformCol2im& o) { k::deform_col2im(o.conv, o.grad_columns, o.grad_input); });
}
void enqueue(Queue* queue, const DeformCol2imCoord& op) {
  launch(queue, op, [](DeformCol2imCoord& o) {
    k::deform_col2im_coord(o.conv, o.grad_columns, o.grad_offset, o.grad_mask);
  });
}

}  // namespace mlu::hal
