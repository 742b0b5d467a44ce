// Shared by the fuzz targets: quiet logging, a byte source for targets that
// take decisions from their input, and a throw-away database per process.
#pragma once

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <unistd.h>

namespace cased::fuzz {

// Logs would cost more than the code under test and flood the fuzzer's output.
inline void quiet() {
  static const bool done = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)done;
}

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A directory of its own for this process under /dev/shm (or TMPDIR), removed
// at exit. Crashes leave it behind; it is small and in a temp directory.
class ScratchDir {
 public:
  static const std::filesystem::path& path() {
    static ScratchDir dir;
    return dir.path_;
  }

 private:
  ScratchDir() {
    std::error_code ec;
    std::filesystem::path base = "/dev/shm";
    if (!std::filesystem::is_directory(base, ec) || ::access(base.c_str(), W_OK) != 0)
      base = std::filesystem::temp_directory_path();
    std::string pattern = (base / "cased-fuzz-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) std::abort();
    path_ = pattern;
    std::atexit([] { std::filesystem::remove_all(path(), ignored()); });
  }
  static std::error_code& ignored() {
    static std::error_code ec;
    return ec;
  }
  std::filesystem::path path_;
};

}  // namespace cased::fuzz
