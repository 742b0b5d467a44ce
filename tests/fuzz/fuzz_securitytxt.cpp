// A vendor's security.txt (cvd/vendor_securitytxt.hpp): checks what the
// parser promises for any bytes, not just that it does not crash.
#include <cstdlib>
#include <string>

#include "core/text.hpp"
#include "cvd/vendor_securitytxt.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = cased::fuzz::as_view(data, size);
  auto f = cased::parse_vendor_securitytxt(in);
  if (!f) {
    // Refused only for size; everything else is invalid, with a message.
    if (f.error().message.empty()) std::abort();
    if ((f.error().code == cased::Errc::refused) != (in.size() > cased::kMaxSecurityTxt)) std::abort();
    return 0;
  }
  if (in.size() > cased::kMaxSecurityTxt || !cased::is_valid_utf8(in)) std::abort();
  if (f->mail.empty() && f->web.empty() && f->phone.empty()) std::abort();
  // What it gives is text without line breaks or control characters.
  for (const auto* list : {&f->mail, &f->web, &f->phone, &f->encryption})
    for (const auto& v : *list) {
      if (v.empty() && list != &f->phone) std::abort();
      for (unsigned char c : v)
        if (c < 0x20 || c == 0x7f) std::abort();
    }
  for (const auto& e : f->encryption)
    if (auto fpr = cased::openpgp4fpr(e); fpr && fpr->size() != 40 && fpr->size() != 64) std::abort();
  return 0;
}
