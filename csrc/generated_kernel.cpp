#include "generated_kernel.h"

#include <cstring>
#include <mutex>
#include <unordered_set>

#include "tensor_desc.h"

namespace torch_mlu {
namespace {

const char* interned(const std::string& name) {
  static std::mutex mutex;
  static std::unordered_set<std::string> names;
  std::lock_guard lock(mutex);
  return names.insert(name).first->c_str();
}

}  // namespace

void KernelArguments::add_host_copy(const void* data, std::size_t bytes) {
  const std::size_t offset = host_bytes.size() * sizeof(std::uint64_t);
  host_bytes.resize(host_bytes.size() +
                    (bytes + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t));
  std::memcpy(reinterpret_cast<std::byte*>(host_bytes.data()) + offset, data, bytes);
  host_at.emplace_back(words.size(), offset);
  words.push_back(0);  // the copy's address, known once the work owns it
}

GeneratedKernel::GeneratedKernel(std::uintptr_t entry_address, const std::string& kernel_name)
    : entry(reinterpret_cast<Entry>(entry_address)), name(interned(kernel_name)) {
  TORCH_CHECK_VALUE(entry_address != 0, "generated kernel ", kernel_name, " has no entry point");
}

void GeneratedKernel::launch(c10::DeviceIndex device, KernelArguments arguments) const {
  torch_mlu::launch(device, name, [run = entry, args = std::move(arguments)]() mutable {
    auto* base = reinterpret_cast<std::byte*>(args.host_bytes.data());
    for (const auto& [word, offset] : args.host_at) {
      args.words[word] = reinterpret_cast<std::uintptr_t>(base + offset);
    }
    run(args.words.data());
  });
}

}  // namespace torch_mlu
