#include "generator.h"

#include <ATen/core/GeneratorForPrivateuseone.h>
#include <ATen/ops/empty.h>
#include <c10/core/TensorImpl.h>
#include <c10/util/CallOnce.h>

#include <cstring>
#include <deque>
#include <mutex>

namespace torch_mlu {
namespace {

constexpr std::size_t kStateBytes = 2 * sizeof(std::uint64_t);  // seed, offset

}  // namespace

MLUGeneratorImpl::MLUGeneratorImpl(c10::DeviceIndex device)
    : c10::GeneratorImpl(c10::Device(kMLU, device),
                         c10::DispatchKeySet(c10::DispatchKey::PrivateUse1)),
      seed_(c10::default_rng_seed_val) {}

void MLUGeneratorImpl::set_current_seed(std::uint64_t seed) {
  seed_ = seed;
  offset_ = 0;
}

std::uint64_t MLUGeneratorImpl::seed() {
  set_current_seed(c10::detail::getNonDeterministicRandom(true));
  return seed_;
}

void MLUGeneratorImpl::set_state(const c10::TensorImpl& state) {
  TORCH_CHECK_TYPE(state.dtype() == caffe2::TypeMeta::Make<std::uint8_t>(),
                   "RNG state must be a torch.ByteTensor");
  TORCH_CHECK_VALUE(state.numel() == static_cast<std::int64_t>(kStateBytes),
                    "mlu RNG state must have ", kStateBytes, " bytes, got ", state.numel());
  std::uint64_t values[2];
  std::memcpy(values, state.data(), kStateBytes);
  seed_ = values[0];
  offset_ = values[1];
}

c10::intrusive_ptr<c10::TensorImpl> MLUGeneratorImpl::get_state() const {
  at::Tensor state = at::empty({static_cast<std::int64_t>(kStateBytes)}, at::kByte);
  const std::uint64_t values[2] = {seed_, offset_};
  std::memcpy(state.data_ptr(), values, kStateBytes);
  return state.getIntrusivePtr();
}

std::uint64_t MLUGeneratorImpl::take(std::uint64_t n) {
  const std::uint64_t first = offset_;
  offset_ += n;
  return first;
}

void MLUGeneratorImpl::begin_capture(hal::Queue* queue, std::shared_ptr<ReplayRandomBase> base) {
  TORCH_CHECK(capture_queue_ == nullptr,
              "the mlu generator is already used by a graph capture on another stream");
  capture_queue_ = queue;
  capture_base_ = std::move(base);
  captured_offsets_ = 0;
}

std::uint64_t MLUGeneratorImpl::end_capture(hal::Queue* queue) {
  if (capture_queue_ != queue) return 0;
  capture_queue_ = nullptr;
  capture_base_.reset();
  return captured_offsets_;
}

std::shared_ptr<ReplayRandomBase> MLUGeneratorImpl::capture_base(hal::Queue* queue) const {
  return queue == capture_queue_ ? capture_base_ : nullptr;
}

std::uint64_t MLUGeneratorImpl::take_captured(std::uint64_t n) {
  const std::uint64_t first = captured_offsets_;
  captured_offsets_ += n;
  return first;
}

MLUGeneratorImpl* MLUGeneratorImpl::clone_impl() const {
  auto* copy = new MLUGeneratorImpl(device().index());
  copy->seed_ = seed_;
  copy->offset_ = offset_;
  return copy;
}

const at::Generator& default_generator(c10::DeviceIndex device) {
  static std::deque<c10::once_flag> flags(device_count());
  static std::deque<at::Generator> generators(device_count());
  const c10::DeviceIndex index = device < 0 ? current_device() : device;
  check_device(index);
  c10::call_once(flags[index], [&] { generators[index] = new_generator(index); });
  return generators[index];
}

at::Generator new_generator(c10::DeviceIndex device) {
  const c10::DeviceIndex index = device < 0 ? current_device() : device;
  check_device(index);
  return at::make_generator<MLUGeneratorImpl>(index);
}

// What torch.Generator(device="mlu") constructs. Later PyTorch asks the hooks' getNewGenerator
// and deprecates this registration.
#if TORCH_MLU_TORCH_VERSION < 209
REGISTER_GENERATOR_PRIVATEUSE1(new_generator)
#endif

}  // namespace torch_mlu
