// The per-device random generator: counter based (seed, offset), like CUDA's Philox generator.
// Every random operation takes a fresh range of the counter, so a seed reproduces the stream.
#pragma once

#include <ATen/core/Generator.h>
#include <c10/core/GeneratorImpl.h>

#include <memory>

#include "device.h"
#include "mlu/ops/random.h"

namespace torch_mlu {

// Where a captured graph's random operations find, when they run, the seed and the first offset
// of the replay running them: each replay takes a fresh range of the counter. The operations
// carry it (hal::RandomRange::replay_base) and read it where they run.
using ReplayRandomBase = hal::PhiloxState;

class MLUGeneratorImpl final : public c10::GeneratorImpl {
 public:
  explicit MLUGeneratorImpl(c10::DeviceIndex device);

  void set_current_seed(std::uint64_t seed) override;
  std::uint64_t current_seed() const override { return seed_; }
  std::uint64_t seed() override;
  void set_offset(std::uint64_t offset) override { offset_ = offset; }
  std::uint64_t get_offset() const override { return offset_; }
  void set_state(const c10::TensorImpl& state) override;
  c10::intrusive_ptr<c10::TensorImpl> get_state() const override;
  static c10::DeviceType device_type() { return kMLU; }

  // Reserves n counter values and returns the first; callers hold the generator's mutex.
  std::uint64_t take(std::uint64_t n);

  // Graph capture on `queue`: random operations enqueued there take offsets counted from the
  // capture's start and read the replay's base when they run. Callers hold the mutex.
  void begin_capture(hal::Queue* queue, std::shared_ptr<ReplayRandomBase> base);
  std::uint64_t end_capture(hal::Queue* queue);  // the offsets one replay takes
  // The capture's base when `queue` is capturing with this generator, else null.
  std::shared_ptr<ReplayRandomBase> capture_base(hal::Queue* queue) const;
  std::uint64_t take_captured(std::uint64_t n);

 private:
  MLUGeneratorImpl* clone_impl() const override;
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
  hal::Queue* capture_queue_ = nullptr;
  std::shared_ptr<ReplayRandomBase> capture_base_;
  std::uint64_t captured_offsets_ = 0;
};

const at::Generator& default_generator(c10::DeviceIndex device);
at::Generator new_generator(c10::DeviceIndex device);

}  // namespace torch_mlu
