// The web form's report -> message conversion: for any fields and files
// (checked or not), the message cased makes has exactly its own header
// fields (nothing typed can add one), parses back without being malformed,
// carries every file with its size, and keeps the receipt in its body.
// Input: the seven text fields, the credit flag and then file name/content
// pairs, separated by NUL bytes.
#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "intake/prepare.hpp"
#include "web/form.hpp"

namespace {

std::vector<std::string> split(std::string_view in) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto nul = in.find('\0', start);
    out.emplace_back(in.substr(start, nul == std::string_view::npos ? std::string_view::npos : nul - start));
    if (nul == std::string_view::npos) return out;
    start = nul + 1;
  }
}

// The names of the top-level header fields, lower case; aborts on a line
// that is not a field, a fold or the end of the header.
std::set<std::string> header_names(const std::string& raw) {
  std::set<std::string> names;
  std::size_t pos = 0;
  for (;;) {
    auto eol = raw.find("\r\n", pos);
    if (eol == std::string::npos) std::abort();
    std::string_view line(raw.data() + pos, eol - pos);
    if (line.empty()) return names;
    if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos) std::abort();
    if (line[0] != ' ' && line[0] != '\t') {
      auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) std::abort();
      std::string name;
      for (char c : line.substr(0, colon)) name += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      names.insert(name);
    }
    pos = eol + 2;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cased::fuzz::quiet();
  std::vector<std::string> parts = split(cased::fuzz::as_view(data, size));
  parts.resize(std::max<std::size_t>(parts.size(), 8));
  cased::web::Report r{parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], !parts[7].empty(), {}};
  for (std::size_t i = 8; i + 1 < parts.size(); i += 2) r.files.push_back({parts[i], "", parts[i + 1]});
  bool checked = cased::web::check_report(r, cased::web::Limits{}).empty();
  cased::web::MessageContext ctx{"security@example.com", "web.fuzz@example.com", "ABCDE-FGHJK-MNPQR-STUVW",
                                 r.key.empty() ? "" : "0123456789ABCDEF0123456789ABCDEF01234567", 1790000000,
                                 "=_cased_web_fuzz"};
  std::string raw = cased::web::build_message(r, ctx);
  static const std::set<std::string> expected = {"from",       "to",           "subject",     "date",
                                                 "message-id", "mime-version", "content-type"};
  if (header_names(raw) != expected) std::abort();
  cased::PreparedMessage m =
      cased::prepare_message(std::move(raw), cased::Envelope{cased::MessageSource::web, "", {}, {}}, nullptr);
  if (m.parsed.message_id != "web.fuzz@example.com") std::abort();
  if (m.parsed.body.find(ctx.receipt) == std::string::npos) std::abort();
  std::size_t files = r.files.size() + (ctx.key_fingerprint.empty() ? 0 : 1);
  if (m.parsed.attachments.size() != files) std::abort();
  for (std::size_t i = 0; i < r.files.size(); ++i)
    if (m.parsed.attachments[i].size != r.files[i].content.size()) std::abort();
  if (checked) {
    // What passed the checks comes back as typed.
    if (m.parsed.malformed) std::abort();
    if (m.parsed.subject.find_first_not_of(" \t") == std::string::npos) std::abort();
    std::string email = r.email;
    if (!email.empty() && m.parsed.from.empty()) std::abort();
  }
  return 0;
}
