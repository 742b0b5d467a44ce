// Replays a fuzz target's corpus without libFuzzer: calls
// LLVMFuzzerTestOneInput once per file, in name order, so that the normal
// g++ build (and its ASan/UBSan variant) runs every seed and every past
// crash on each test run. Usage: fuzz_replay_<target> FILE|DIR...
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

std::vector<std::filesystem::path> inputs(const std::filesystem::path& arg) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(arg)) {
    for (const auto& e : std::filesystem::directory_iterator(arg))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(arg);
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  std::size_t count = 0;
  double slowest = 0;
  std::string slowest_name;
  for (int i = 1; i < argc; ++i) {
    for (const auto& file : inputs(argv[i])) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", file.c_str());
        return 2;
      }
      std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::fprintf(stderr, "%s (%zu bytes)\n", file.c_str(), bytes.size());
      auto start = std::chrono::steady_clock::now();
      // A copy of exactly the file's size, so that ASan sees reads past its end.
      std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
      LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (s > slowest) {
        slowest = s;
        slowest_name = file.string();
      }
      ++count;
    }
  }
  if (count == 0) {
    std::fprintf(stderr, "no inputs\n");
    return 2;
  }
  std::printf("replayed %zu input(s); slowest %.3f s: %s\n", count, slowest, slowest_name.c_str());
  return 0;
}
