// The HTML-to-text renderer (an HTML-only mail's body) and the header-word
// decoder, which both see sender bytes before any other check.
#include "fuzz_common.hpp"
#include "mail/mime.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cased::fuzz::quiet();
  std::string_view in = cased::fuzz::as_view(data, size);
  (void)cased::html_to_text(in);
  (void)cased::decode_header_words(in);
  // The first line names a charset, the rest is text in it.
  auto nl = in.find('\n');
  if (nl != std::string_view::npos && nl < 40) (void)cased::to_utf8(in.substr(nl + 1), in.substr(0, nl));
  return 0;
}
