// mbox splitting (casectl ingest --mbox): messages come out in order, each
// no larger than the input, and the split never loops or crashes.
#include <cstdlib>
#include <sstream>

#include "fuzz_common.hpp"
#include "mail/mbox.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cased::fuzz::quiet();
  std::istringstream in{std::string(cased::fuzz::as_view(data, size))};
  std::size_t seen = 0, bytes = 0;
  // Stop after a few when the input says so, to reach the early return.
  const std::size_t stop_after = size % 5 == 0 ? 2 : SIZE_MAX;
  std::size_t count = cased::read_mbox(in, [&](std::string&& message) {
    ++seen;
    bytes += message.size();
    return seen < stop_after;
  });
  if (count != seen || bytes > size) std::abort();
  return 0;
}
