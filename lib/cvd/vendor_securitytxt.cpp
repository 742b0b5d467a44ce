#include "cvd/vendor_securitytxt.hpp"

#include <fmt/format.h>

#include <cctype>

#include "core/text.hpp"
#include "core/util.hpp"

namespace cased {
namespace {

constexpr std::string_view kBeginSigned = "-----BEGIN PGP SIGNED MESSAGE-----";
constexpr std::string_view kBeginSignature = "-----BEGIN PGP SIGNATURE-----";
constexpr std::string_view kEndSignature = "-----END PGP SIGNATURE-----";

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

// A line numbered from 1, without its line break.
struct Line {
  std::size_t number = 0;
  std::string_view text;
};

std::vector<Line> split_lines(std::string_view text) {
  std::vector<Line> out;
  std::size_t n = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back({++n, line});
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

Error malformed(std::size_t line, std::string_view why) {
  return Error{Errc::invalid, fmt::format("malformed security.txt: line {}: {}", line, why)};
}

// The lines the cleartext signature covers, dash-escaping undone; or an
// error when the framing is wrong or text sits outside it.
Result<std::vector<Line>> signed_lines(const std::vector<Line>& lines, std::size_t first) {
  std::size_t i = first + 1;
  // Armor headers (Hash: ...) up to the blank line.
  while (i < lines.size() && !lines[i].text.empty()) {
    if (lines[i].text.find(": ") == std::string_view::npos) return malformed(lines[i].number, "bad armor header");
    ++i;
  }
  if (i >= lines.size()) return malformed(lines[first].number, "cleartext signature without text");
  std::vector<Line> out;
  for (++i; i < lines.size() && lines[i].text != kBeginSignature; ++i) {
    Line l = lines[i];
    if (l.text.starts_with("- ")) l.text.remove_prefix(2);
    else if (l.text.starts_with("-")) return malformed(l.number, "a line starting with '-' that is not dash-escaped");
    out.push_back(l);
  }
  if (i >= lines.size()) return malformed(lines[first].number, "cleartext signature without a signature block");
  while (i < lines.size() && lines[i].text != kEndSignature) ++i;
  if (i >= lines.size()) return malformed(lines.back().number, "signature block without its END line");
  for (++i; i < lines.size(); ++i)
    if (!blank(lines[i].text)) return malformed(lines[i].number, "text after the signature (it is not signed)");
  return out;
}

bool field_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; }

Status contact(VendorSecurityTxtFile& f, const Line& l, std::string_view value) {
  std::string lower = to_lower(value.substr(0, value.find(':') + 1));
  if (lower == "mailto:") {
    std::string_view addr = value.substr(7);
    addr = addr.substr(0, addr.find('?'));
    if (addr.empty()) return malformed(l.number, "empty mailto: Contact");
    f.mail.emplace_back(addr);
  } else if (lower == "https:") {
    f.web.emplace_back(value);
  } else if (lower == "tel:") {
    f.phone.emplace_back(value.substr(4));
  } else {
    f.warnings.push_back(fmt::format("line {}: Contact {} not used (not mailto:, https: or tel:)", l.number,
                                     display_safe(clip(value, 80))));
  }
  return ok_status();
}

Status field(VendorSecurityTxtFile& f, const Line& l) {
  std::string_view t = l.text;
  std::size_t colon = t.find(':');
  if (colon == 0 || colon == std::string_view::npos) return malformed(l.number, "neither a field, a comment nor blank");
  std::string_view name = t.substr(0, colon);
  for (char c : name)
    if (!field_name_char(c)) return malformed(l.number, "neither a field, a comment nor blank");
  std::string value = trim(t.substr(colon + 1));
  if (value.empty()) return malformed(l.number, fmt::format("{} without a value", name));
  for (char c : value)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return malformed(l.number, "a control character");
  if (iequals(name, "Contact")) return contact(f, l, value);
  if (iequals(name, "Encryption")) {
    f.encryption.push_back(value);
  } else if (iequals(name, "Expires")) {
    if (f.expires) return malformed(l.number, "a second Expires");
    f.expires = parse_securitytxt_expires(value);
    if (!f.expires) return malformed(l.number, "Expires is not an RFC 3339 date-time (2027-01-31T12:00:00Z)");
  }
  return ok_status();
}

}  // namespace

bool valid_vendor_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxVendorName) return false;
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_alnum(name[0])) return false;
  for (char c : name)
    if (!lower_alnum(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

std::optional<std::int64_t> parse_securitytxt_expires(std::string_view v) {
  // YYYY-MM-DDTHH:MM:SS, an optional fraction, then Z or an offset.
  if (v.size() < 20 || (v[10] != 'T' && v[10] != 't')) return std::nullopt;
  std::string base(v.substr(0, 19));
  base[10] = 'T';
  std::string_view rest = v.substr(19);
  if (!rest.empty() && rest[0] == '.') {
    std::size_t digits = 1;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
    if (digits == 1 || digits > 10) return std::nullopt;
    rest.remove_prefix(digits);
  }
  std::int64_t offset = 0;
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    auto digit = [&](std::size_t i) { return std::isdigit(static_cast<unsigned char>(rest[i])) != 0; };
    if (!digit(1) || !digit(2) || !digit(4) || !digit(5)) return std::nullopt;
    int h = (rest[1] - '0') * 10 + (rest[2] - '0'), m = (rest[4] - '0') * 10 + (rest[5] - '0');
    if (h > 23 || m > 59) return std::nullopt;
    offset = (rest[0] == '+' ? 1 : -1) * (h * 3600 + m * 60);
  } else {
    return std::nullopt;
  }
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18})
    if (!std::isdigit(static_cast<unsigned char>(base[i]))) return std::nullopt;
  std::int64_t t = 0;
  if (!parse_rfc3339(base + "Z", t)) return std::nullopt;
  return t - offset;
}

std::optional<std::string> openpgp4fpr(std::string_view value) {
  if (value.size() <= 12 || !iequals(value.substr(0, 12), "openpgp4fpr:")) return std::nullopt;
  std::string fpr;
  for (char c : value.substr(12)) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    fpr += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (fpr.size() != 40 && fpr.size() != 64) return std::nullopt;
  return fpr;
}

Result<VendorSecurityTxtFile> parse_vendor_securitytxt(std::string_view text) {
  if (text.size() > kMaxSecurityTxt)
    return Error{Errc::refused, fmt::format("security.txt is larger than {} KiB ({} bytes): not read",
                                            kMaxSecurityTxt / 1024, text.size())};
  if (!is_valid_utf8(text)) return Error{Errc::invalid, "malformed security.txt: not UTF-8 text"};
  VendorSecurityTxtFile f;
  std::vector<Line> lines = split_lines(text);
  std::size_t first = 0;
  while (first < lines.size() && blank(lines[first].text)) ++first;
  if (first < lines.size() && lines[first].text == kBeginSigned) {
    auto inner = signed_lines(lines, first);
    if (!inner) return inner.error();
    lines = std::move(*inner);
    f.clearsigned = true;
  }
  for (const auto& l : lines) {
    std::string_view t = l.text;
    if (blank(t) || t.starts_with("#")) continue;
    if (auto st = field(f, l); !st) return st.error();
  }
  if (f.mail.empty() && f.web.empty() && f.phone.empty())
    return Error{Errc::invalid, "malformed security.txt: no usable Contact field (mailto:, https: or tel:)"};
  if (!f.expires) f.warnings.push_back("no Expires field (RFC 9116 requires one): its age is unknown");
  return f;
}

}  // namespace cased
