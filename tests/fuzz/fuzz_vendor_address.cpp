// The alias's plus-forms (alias+ID, alias+ID.NAME): what the parser
// promises for any bytes, not just that it does not crash. Whatever it
// names is a case number in range and a vendor name of the book's form,
// and reading the same text back as an address names the same.
#include <cstdlib>
#include <string>

#include "cases/vendor_address.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = cased::fuzz::as_view(data, size);
  auto t = cased::parse_plus_detail(in);
  if (t) {
    if (t->case_id <= 0) std::abort();
    const std::string& v = t->vendor;
    if (v.size() > cased::kMaxAddressVendor) std::abort();
    for (char c : v)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) std::abort();
    if (!v.empty() && (v.front() == '.' || v.front() == '_' || v.front() == '-' || v.back() == '.')) std::abort();
    // What it names, written out, is read back the same.
    std::string again = std::to_string(t->case_id) + (v.empty() ? "" : "." + v);
    if (again != in || cased::parse_plus_detail(again) != t) std::abort();
  }
  // As the local part's detail of an address: the same answer.
  auto form = cased::plus_target({"security+" + std::string(in) + "@example.com"}, "security@example.com");
  if (form.found == in.empty()) std::abort();  // any detail makes a plus-form
  std::string lower;
  for (char c : in) lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  auto direct = cased::parse_plus_detail(lower);
  if (in.find('@') == std::string_view::npos && in.find_first_of(" \t\r\n<>") == std::string_view::npos &&
      form.named != direct)
    std::abort();
  return 0;
}
