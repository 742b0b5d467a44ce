// Attachment names made into file names: checks what safe_name.hpp
// promises for any bytes, not just that it does not crash.
#include <cstdlib>
#include <string>

#include "core/safe_name.hpp"
#include "core/text.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = cased::fuzz::as_view(data, size);
  std::string name = cased::safe_file_name(in, "attachment-1.1");
  // A name inside the directory it is written to, inert on a terminal.
  if (name.empty() || name.size() > cased::kMaxSafeName) std::abort();
  if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos) std::abort();
  if (name.front() == '.' || name.front() == '-' || name.back() == '.') std::abort();
  if (!cased::is_valid_utf8(name) || cased::display_safe(name) != name) std::abort();
  // Made safe once is safe: a second pass changes nothing.
  if (cased::safe_file_name(name, "attachment-1.1") != name) std::abort();
  std::string numbered = cased::numbered_name(name, 1000);
  if (numbered.size() > 255 || numbered.find('/') != std::string::npos || numbered.front() == '.') std::abort();
  return 0;
}
