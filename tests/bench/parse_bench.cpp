// Parses one message file the way the daemon does before storing it
// (prepare_message without crypto) and prints the wall time and the peak
// RSS of the process: the parser's share of hostile_parse_bench.sh.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "store/store.hpp"

namespace {

long peak_rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: parse_bench FILE\n");
    return 2;
  }
  std::string raw;
  {
    std::ifstream in(argv[1], std::ios::binary);
    raw.assign(std::istreambuf_iterator<char>(in), {});
  }
  long before = peak_rss_kb();
  auto start = std::chrono::steady_clock::now();
  auto prepared = cased::prepare_message(std::move(raw), cased::Envelope{cased::MessageSource::lmtp, std::string("rita@example.org"), {}}, nullptr);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.3f %ld %ld %zu\n", s, before, peak_rss_kb(), prepared.parsed.body.size());
  return 0;
}
