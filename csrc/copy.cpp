// Copies between host and mlu use the driver's copies (staged through pinned memory as a DMA
// engine needs); copies within mlu run the device's copy operation (hal::Copy).

#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "host_allocator.h"
#include "ops/common.h"
#include "tensor_desc.h"

namespace torch_mlu {
namespace {

bool is_mlu(const at::Tensor& t) { return t.device().type() == kMLU; }

bool plain(const at::Tensor& t) { return t.is_contiguous(); }

void device_copy(const at::Tensor& dst, const at::Tensor& src);

// Complex copies are copies of interleaved real views: complex to complex converts both parts,
// real to complex sets the imaginary part to 0, complex to real keeps the real part (as on CPU).
void complex_device_copy(const at::Tensor& dst, const at::Tensor& src) {
  if (dst.is_complex() && src.is_complex()) {
    device_copy(at::view_as_real(dst), at::view_as_real(src));
  } else if (dst.is_complex()) {
    at::Tensor parts = at::view_as_real(dst);
    device_copy(parts.select(-1, 0), src);
    parts.select(-1, 1).zero_();
  } else {
    TORCH_WARN_ONCE("Casting complex values to real discards the imaginary part");
    device_copy(dst, at::view_as_real(src).select(-1, 0));
  }
}

// On the device every copy is an operation (hal::Copy): the software MLU runs a contiguous one as
// memcpy over all the kernel threads (the driver's copy is one memcpy on the queue's thread).
void device_copy(const at::Tensor& dst, const at::Tensor& src) {
  if (dst.numel() == 0) return;
  if (dst.is_complex() || src.is_complex()) return complex_device_copy(dst, src);
  // Two contiguous tensors are one flat run each, whatever their rank (the kernels cap it).
  const bool flat = plain(dst) && plain(src);
  launch(dst, hal::Copy{describe(flat ? dst.view(-1) : dst), describe(flat ? src.view(-1) : src)});
}

void host_to_device(const at::Tensor& dst, const at::Tensor& src, bool non_blocking) {
  const at::Tensor staged = src.to(dst.scalar_type()).contiguous();
  const at::Tensor target = plain(dst) ? dst : at::empty(dst.sizes(), dst.options());
  hal::Queue* queue = current_queue(dst.device().index());
  enqueue_copy(dst.device().index(), target.data_ptr(), staged.data_ptr(), target.nbytes(),
               hal::CopyKind::HostToDevice);
  if (staged.is_same(src) && is_pinned(src.storage().data())) {
    if (non_blocking)
      record_host_use(src.storage().data(), queue);
    else
      hal_call([&] { driver().synchronize(queue); });
  }
  if (!target.is_same(dst)) device_copy(dst, target);
}

void device_to_host(const at::Tensor& dst, const at::Tensor& src, bool non_blocking) {
  at::Tensor source = src;
  if (!plain(src) || src.scalar_type() != dst.scalar_type()) {
    source = at::empty(src.sizes(), src.options().dtype(dst.scalar_type()));
    device_copy(source, src);
  }
  const at::Tensor target = plain(dst) ? dst : at::empty(dst.sizes(), dst.options());
  hal::Queue* queue = current_queue(src.device().index());
  enqueue_copy(src.device().index(), target.data_ptr(), source.data_ptr(), target.nbytes(),
               hal::CopyKind::DeviceToHost);
  if (target.is_same(dst) && is_pinned(dst.storage().data())) {
    if (non_blocking)
      record_host_use(dst.storage().data(), queue);
    else
      hal_call([&] { driver().synchronize(queue); });
  }
  if (!target.is_same(dst)) dst.copy_(target);
}

// Both queues wait for each other around the transfer, so neither side's memory is reused early.
void between_devices(const at::Tensor& dst, const at::Tensor& src) {
  const c10::DeviceIndex from = src.device().index(), to = dst.device().index();
  at::Tensor source = src;
  {
    c10::DeviceGuard guard(src.device());
    if (!plain(src) || src.scalar_type() != dst.scalar_type()) {
      source = at::empty(src.sizes(), src.options().dtype(dst.scalar_type()));
      device_copy(source, src);
    }
  }
  c10::DeviceGuard guard(dst.device());
  const at::Tensor target = plain(dst) ? dst : at::empty(dst.sizes(), dst.options());
  hal::Driver& d = driver();
  hal::Queue* src_queue = current_queue(from);
  hal::Queue* dst_queue = current_queue(to);
  hal_call([&] {
    hal::Notifier* ready = d.create_notifier(from, false);
    d.record(ready, src_queue);
    d.wait(dst_queue, ready);
    d.destroy_notifier(ready);
  });
  enqueue_copy(to, target.data_ptr(), source.data_ptr(), target.nbytes(),
               hal::CopyKind::DeviceToDevice);
  hal_call([&] {
    hal::Notifier* done = d.create_notifier(to, false);
    d.record(done, dst_queue);
    d.wait(src_queue, done);
    d.destroy_notifier(done);
  });
  if (!target.is_same(dst)) device_copy(dst, target);
}

at::Tensor copy_from(const at::Tensor& self, const at::Tensor& dst, bool non_blocking);

// A tensor's memory as it is, without a pending conjugation or negation (views of the same data).
at::Tensor physical(const at::Tensor& t) {
  const at::Tensor unconjugated = t.is_conj() ? t.conj() : t;
  return unconjugated.is_neg() ? at::_neg_view(unconjugated) : unconjugated;
}

// Copies between tensors with pending conjugation or negation (conj() and its views): dst's memory
// receives the source's values, conjugated or negated where the two tensors' bits differ.
void copy_resolving_bits(const at::Tensor& self, const at::Tensor& dst, bool non_blocking) {
  const bool conjugate = self.is_conj() != dst.is_conj(), negate = self.is_neg() != dst.is_neg();
  at::Tensor source = physical(self);
  if (conjugate) source = is_mlu(source) ? at::conj_physical(source) : source.conj().resolve_conj();
  if (negate) source = is_mlu(source) ? at::neg(source) : at::_neg_view(source).resolve_neg();
  copy_from(source, physical(dst), non_blocking);
}

at::Tensor copy_from(const at::Tensor& self, const at::Tensor& dst, bool non_blocking) {
  if (dst.numel() == 0) return dst;
  if (self.is_conj() || dst.is_conj() || self.is_neg() || dst.is_neg()) {
    copy_resolving_bits(self, dst, non_blocking);
    return dst;
  }
  ops::check_overlap(dst, {&self});  // what copy_ refuses on CPU
  const at::Tensor src = self.sizes() == dst.sizes() ? self : self.expand_as(dst);
  if (is_mlu(src) && is_mlu(dst)) {
    if (src.device() == dst.device()) {
      c10::DeviceGuard guard(dst.device());
      device_copy(dst, src);
    } else {
      between_devices(dst, src);
    }
  } else if (is_mlu(dst)) {
    c10::DeviceGuard guard(dst.device());
    host_to_device(dst, src, non_blocking);
  } else {
    c10::DeviceGuard guard(src.device());
    device_to_host(dst, src, non_blocking);
  }
  return dst;
}

at::Tensor copy_from_and_resize(const at::Tensor& self, const at::Tensor& dst) {
  dst.resize_(self.sizes());
  return copy_from(self, dst, false);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_copy_from", copy_from);
  m.impl("_copy_from_and_resize", copy_from_and_resize);
}

// copy_from resolves conjugation and negation itself. Left to the Conjugate and Negative keys'
// fallbacks, a conjugated source would be materialised by clone, that is by copy_, which calls
// _copy_from with it again (endlessly).
TORCH_LIBRARY_IMPL(aten, Conjugate, m) {
  m.impl("_copy_from", torch::CppFunction::makeFallthrough());
  m.impl("_copy_from_and_resize", torch::CppFunction::makeFallthrough());
}
TORCH_LIBRARY_IMPL(aten, Negative, m) {
  m.impl("_copy_from", torch::CppFunction::makeFallthrough());
  m.impl("_copy_from_and_resize", torch::CppFunction::makeFallthrough());
}

}  // namespace
}  // namespace torch_mlu
