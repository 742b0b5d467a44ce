// The web form's pages: the report form (with what was typed and the
// errors next to their fields), the receipt, short error pages, the style
// sheet, and the headers every response carries. Plain HTML: no script, no
// resource from anywhere else, labels and fieldsets for assistive
// technology and text browsers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "web/form.hpp"

namespace cased::web {

// Every response: a Content-Security-Policy that allows only our own style
// sheet and forms posted to ourselves, nosniff, no referrer, no framing,
// and no caching (the form carries a token, the receipt a code).
std::vector<std::pair<std::string, std::string>> security_headers();

struct FormPage {
  std::string alias;
  std::string csrf;               // the token for the hidden field
  std::uint64_t max_upload = 0;   // stated on the page
  std::size_t max_files = 10;
  const Report* typed = nullptr;  // what to show again (not the files: a browser cannot be given those)
  const FieldErrors* errors = nullptr;
  std::string notice;             // a line above the form ("" = none)
};
std::string form_page(const FormPage& page);

// After the commit: the case tag and the receipt code, and how to follow up
// by mail. Echoes nothing the reporter typed.
std::string receipt_page(std::string_view alias, std::string_view case_tag, std::string_view receipt);

// A short page for a refusal (403, 413, 429, 503...): a title and a sentence, no input echoed.
std::string message_page(std::string_view title, std::string_view text);

// /form.css
std::string_view style_sheet();

// "&", "<", ">", quotes as entities.
std::string html_escape(std::string_view text);

// "10 MB" and the like.
std::string human_size(std::uint64_t bytes);

}  // namespace cased::web
