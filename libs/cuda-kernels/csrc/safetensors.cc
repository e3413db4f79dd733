#include "safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "dtype_convert.h"

namespace sluice {
namespace {

// A private (copy-on-write) mapping: an op writing into a weight never touches the file.
std::shared_ptr<void> map_file(const std::string& path, size_t& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(std::string("cannot stat: ") + std::strerror(err));
  }
  size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    throw std::runtime_error("the file is empty");
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) throw std::runtime_error(std::string("cannot map: ") + std::strerror(err));
  return std::shared_ptr<void>(p, [size](void* q) { ::munmap(q, size); });
}

std::shared_ptr<Storage> pooled(const std::shared_ptr<Backend>& backend, size_t bytes) {
  auto s = std::make_shared<Storage>();
  s->backend = backend;
  s->bytes = bytes;
  s->pooled = true;
  s->data = backend->allocate(bytes);
  return s;
}

}  // namespace

std::vector<LoadedTensor> load_safetensors(const std::shared_ptr<Backend>& backend, const std::string& path,
                                           int64_t data_start, const std::vector<SafetensorsEntry>& entries,
                                           bool as_stored) {
  size_t size = 0;
  std::shared_ptr<void> mapping = map_file(path, size);
  const char* data = static_cast<const char*>(mapping.get()) + data_start;
  const bool on_cpu = backend->device() == Device::CPU;
  std::vector<LoadedTensor> out;
  for (const SafetensorsEntry& e : entries) {
    int64_t numel = 1;
    for (int64_t d : e.shape) numel *= d;
    const size_t bytes = static_cast<size_t>(numel) * dtype_size(e.dtype);
    if (e.end - e.begin != static_cast<int64_t>(bytes)) {
      throw std::runtime_error("tensor '" + e.name + "': byte range does not match its shape and dtype");
    }
    if (data_start + e.end > static_cast<int64_t>(size)) {
      throw std::runtime_error("tensor '" + e.name + "': data runs past the end of the file");
    }
    const char* src = data + e.begin;
    LoadedTensor t{nullptr, e.dtype, e.shape};
    if (on_cpu && !as_stored && (e.dtype == DType::BF16 || e.dtype == DType::F16)) {
      t.dtype = DType::F32;
      t.storage = pooled(backend, static_cast<size_t>(numel) * 4);
      widen_to_f32(static_cast<float*>(t.storage->data), src, e.dtype, static_cast<size_t>(numel));
    } else if (on_cpu && reinterpret_cast<uintptr_t>(src) % dtype_size(e.dtype) == 0) {
      t.storage = std::make_shared<Storage>();
      t.storage->backend = backend;
      t.storage->data = const_cast<char*>(src);
      t.storage->bytes = bytes;
      t.storage->keep_alive = mapping;  // the mapping lives as long as any tensor of it
    } else {
      t.storage = pooled(backend, bytes);
      backend->copy_from_host(t.storage->data, src, bytes);
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace sluice
