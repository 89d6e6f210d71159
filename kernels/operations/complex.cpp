#include "mlu_kernels/complex.h"

#include "launch.h"

namespace mlu::hal {

namespace k = mlu::kernels;
using software::launch;

void enqueue(Queue* queue, const ComplexUnary& op) {
  launch(queue, op, [](ComplexUnary& o) { k::complex_unary(o.op, o.out, o.in); });
}
void enqueue(Queue* queue, const ComplexAbs& op) {
  launch(queue, op,
         [](ComplexAbs& o) { k::complex_to_real(k::ComplexToRealOp::Abs, o.out, o.in); });
}
void enqueue(Queue* queue, const ComplexFromParts& op) {
  launch(queue, op,
         [](ComplexFromParts& o) { k::complex_from_parts(false, o.out, o.real, o.imag); });
}
void enqueue(Queue* queue, const Polar& op) {
  launch(queue, op, [](Polar& o) { k::complex_from_parts(true, o.out, o.abs, o.angle); });
}
void enqueue(Queue* queue, const ComplexBinary& op) {
  launch(queue, op, [](ComplexBinary& o) {
    k::complex_binary(o.op, o.out, o.a, o.b, o.alpha_re, o.alpha_im);
  });
}
void enqueue(Queue* queue, const FftC2C& op) {
  launch(queue, op, [](FftC2C& o) { k::fft_c2c(o.out, o.in, o.dims, o.forward, o.scale); });
}
void enqueue(Queue* queue, const FftR2C& op) {
  launch(queue, op, [](FftR2C& o) { k::fft_r2c(o.out, o.in, o.dims, o.scale); });
}
void enqueue(Queue* queue, const FftC2R& op) {
  launch(queue, op, [](FftC2R& o) { k::fft_c2r(o.out, o.in, o.dims, o.scale); });
}

}  // namespace mlu::hal
