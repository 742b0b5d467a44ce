// Versions and the checks every document shares (advisory.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "core/text.hpp"
#include "cvd/advisory.hpp"
#include "cvd/advisory_parts.hpp"
#include "cvd/cve_id.hpp"

namespace cased::advisory {
namespace {

bool version_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '+' || c == '~' || c == '-';
}

bool ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// CSAF 2.0 mandatory test 6.1.31 reads a product version whose lower-cased
// name contains one of these (or < >, which version_char refuses) as a range.
const char* range_word(std::string_view version) {
  std::string lower(version);
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* w : {"after", "all", "before", "earlier", "later", "prior", "versions"})
    if (lower.find(w) != std::string::npos) return w;
  return nullptr;
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t at = text.find(sep, start);
    out.push_back(trimmed(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start)));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return out;
}

// What follows a common prefix orders two versions: "~" first (Debian:
// 1.0~rc1 < 1.0), then "-" and a letter (a semver pre-release: 2.0.0-rc1 <
// 2.0.0), then the end, then any other character in ASCII order (1.0 <
// 1.0-1 < 1.0.1).
int rank(std::string_view s, std::size_t i) {
  if (i >= s.size()) return 2;
  if (s[i] == '~') return 0;
  if (s[i] == '-' && i + 1 < s.size() && ascii_letter(s[i + 1])) return 1;
  return 3 + static_cast<unsigned char>(s[i]);
}

// One bound: "<=2.0" -> ("<=", "2.0").
std::pair<std::string, std::string> bound(std::string_view word) {
  for (std::string_view op : {"<=", ">=", "<", ">"})
    if (word.starts_with(op)) return {std::string(op), trimmed(word.substr(op.size()))};
  return {"", std::string(word)};
}

Result<VersionRange> parse_item(const std::string& item, std::string_view field) {
  auto bad = [&](const std::string& why) {
    return Error{Errc::invalid, fmt::format("{}: '{}' cannot be expressed as a version range: {}", field, item, why)};
  };
  VersionRange r;
  std::vector<std::string> words;
  if (auto dash = item.find(" - "); dash != std::string::npos) {
    r.low = trimmed(std::string_view(item).substr(0, dash));
    r.high = trimmed(std::string_view(item).substr(dash + 3));
  } else {
    for (const auto& w : split(item, ' '))
      if (!w.empty()) words.push_back(w);
    if (words.empty() || words.size() > 2) return bad("write 1.2, 1.0 - 1.4, >=1.0 <1.4, <2.0 or <=2.0");
    for (const auto& w : words) {
      auto [op, v] = bound(w);
      if (op.empty() && words.size() == 1) r.exact = v;
      else if ((op == ">=" || op == ">") && !r.low) r.low = v, r.low_inclusive = op == ">=";
      else if ((op == "<=" || op == "<") && !r.high) r.high = v, r.high_inclusive = op == "<=";
      else return bad("write 1.2, 1.0 - 1.4, >=1.0 <1.4, <2.0 or <=2.0");
    }
  }
  for (const auto* v : {&r.exact, r.low ? &*r.low : nullptr, r.high ? &*r.high : nullptr}) {
    if (!v || (v == &r.exact && r.is_range())) continue;
    if (v->empty()) return bad("a version is empty");
    if (!std::all_of(v->begin(), v->end(), version_char) || !std::isalnum(static_cast<unsigned char>((*v)[0])))
      return bad(fmt::format("'{}' is not a version (letters, digits and . _ + ~ -)", *v));
    if (const char* w = range_word(*v))
      return bad(fmt::format("'{}' is not a version: it holds '{}', which CSAF reads as a range (write the range, "
                             "e.g. <2.0)", *v, w));
  }
  if (r.low && r.high) {
    int order = compare_versions(*r.low, *r.high);
    if (order == 0) return bad("the range starts and ends on the same version (give that one version)");
    if (order > 0) return bad("the range is inverted (its start is after its end)");
  }
  return r;
}

// RFC 3986: unreserved, sub-delims, ":" "@" and "%"; "[" "]" only in the
// authority (an IPv6 literal), "/" "?" only after it.
bool uri_char(char c, bool authority) {
  if (ascii_letter(c) || (c >= '0' && c <= '9')) return true;
  if (std::string_view("-._~!$&'()*+,;=:@%").find(c) != std::string_view::npos) return true;
  return authority ? (c == '[' || c == ']') : (c == '/' || c == '?');
}

bool hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

bool reference_url(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("https://")) rest = url.substr(8);
  else if (url.starts_with("http://")) rest = url.substr(7);
  else return false;
  std::size_t host_end = std::min(rest.find_first_of("/?#"), rest.size());
  if (host_end == 0) return false;
  std::size_t fragment = rest.find('#');
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (i == fragment) continue;
    if (!uri_char(rest[i], i < host_end)) return false;
    if (rest[i] == '%' && (i + 2 >= rest.size() || !hex_digit(rest[i + 1]) || !hex_digit(rest[i + 2]))) return false;
  }
  return true;
}

namespace {

Status check_publisher(const Publisher& p) {
  auto missing = [](const char* key) {
    return Error{Errc::invalid, fmt::format("[advisory] {} is not set in the configuration", key)};
  };
  if (p.name.empty()) return missing("publisher");
  if (p.namespace_.empty()) return missing("namespace");
  if (p.base_url.empty()) return missing("base_url");
  return ok_status();
}

// The affected and fixed versions, and how they fit together: a fixed
// version is never inside the affected ones; with one fixed version and no
// affected ones, the versions before it are affected; with several fixed
// versions (fixes on several branches) which versions are affected cannot
// be told, so they must be given.
Status check_versions(const Input& in, Checked& c) {
  auto bad = [](std::string m) { return Error{Errc::invalid, std::move(m)}; };
  if (in.versions && !trimmed(*in.versions).empty()) {
    auto v = parse_versions(*in.versions, "versions");
    if (!v) return v.error();
    c.affected = std::move(*v);
  }
  if (in.fixed && !trimmed(*in.fixed).empty()) {
    auto v = parse_versions(*in.fixed, "fixed");
    if (!v) return v.error();
    for (const auto& r : *v)
      if (r.is_range()) return bad(fmt::format("fixed: '{}' is a range: name the fixed versions", r.label()));
    c.fixed = std::move(*v);
  }
  for (const auto& f : c.fixed)
    for (const auto& a : c.affected)
      if (a.contains(f.exact))
        return bad(fmt::format("fixed: '{}' is among the affected versions '{}' (a version is affected or fixed, "
                               "not both: correct casectl set ID --versions or the fixed list)", f.exact, a.label()));
  if (c.affected.empty() && c.fixed.size() > 1) {
    std::string example;
    for (const auto& f : c.fixed) {
      std::size_t dot = f.exact.rfind('.');
      example += (example.empty() ? "" : ", ") +
                 (dot == std::string::npos ? "" : ">=" + f.exact.substr(0, dot) + " ") + "<" + f.exact;
    }
    return bad(fmt::format("fixed: several fixed versions ({}) but no affected versions: which versions are affected "
                           "cannot be told, give them (casectl set ID --versions \"{}\" if those are the branches)",
                           fixed_list(c), example));
  }
  if (c.affected.empty() && c.fixed.size() == 1) {
    VersionRange before;
    before.high = c.fixed.front().exact;
    before.high_inclusive = false;
    c.affected.push_back(std::move(before));
    c.affected_from_fixed = true;
  }
  return ok_status();
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && is_digit(a[i]) && is_digit(b[j])) {
      std::size_t ei = i, ej = j;
      while (ei < a.size() && is_digit(a[ei])) ++ei;
      while (ej < b.size() && is_digit(b[ej])) ++ej;
      std::string_view na = a.substr(i, ei - i), nb = b.substr(j, ej - j);
      while (na.size() > 1 && na[0] == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb[0] == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size() ? -1 : 1;
      if (na != nb) return na < nb ? -1 : 1;
      i = ei, j = ej;
      continue;
    }
    int ra = rank(a, i), rb = rank(b, j);
    if (ra != rb) return ra < rb ? -1 : 1;
    ++i, ++j;  // the same character
  }
  return 0;
}

bool VersionRange::contains(std::string_view version) const {
  if (!is_range()) return compare_versions(exact, version) == 0;
  if (low) {
    int order = compare_versions(version, *low);
    if (order < 0 || (order == 0 && !low_inclusive)) return false;
  }
  if (high) {
    int order = compare_versions(version, *high);
    if (order > 0 || (order == 0 && !high_inclusive)) return false;
  }
  return true;
}

bool VersionRange::same_as(const VersionRange& o) const {
  auto same = [](const std::optional<std::string>& x, const std::optional<std::string>& y) {
    return x.has_value() == y.has_value() && (!x || compare_versions(*x, *y) == 0);
  };
  if (is_range() != o.is_range()) return false;
  if (!is_range()) return compare_versions(exact, o.exact) == 0;
  return same(low, o.low) && same(high, o.high) && (!low || low_inclusive == o.low_inclusive) &&
         (!high || high_inclusive == o.high_inclusive);
}

std::string VersionRange::vers() const {
  if (!is_range()) return "vers:generic/" + exact;
  std::string out = "vers:generic/";
  if (low) out += (low_inclusive ? ">=" : ">") + *low;
  if (low && high) out += "|";
  if (high) out += (high_inclusive ? "<=" : "<") + *high;
  return out;
}

std::string VersionRange::label() const {
  if (!is_range()) return exact;
  if (low && high && low_inclusive && high_inclusive) return *low + " to " + *high;
  if (!low && high && !high_inclusive) return "before " + *high;
  std::string out;
  if (low) out += (low_inclusive ? ">=" : ">") + *low;
  if (low && high) out += " ";
  if (high) out += (high_inclusive ? "<=" : "<") + *high;
  return out;
}

Result<std::vector<VersionRange>> parse_versions(std::string_view text, std::string_view field) {
  std::vector<VersionRange> out;
  std::vector<std::string> items;
  for (const auto& item : split(text, ',')) {
    if (item.empty()) return Error{Errc::invalid, fmt::format("{}: an empty version in '{}'", field, text)};
    auto r = parse_item(item, field);
    if (!r) return r.error();
    for (std::size_t k = 0; k < out.size(); ++k)
      if (out[k].same_as(*r))
        return Error{Errc::invalid, fmt::format("{}: '{}' is listed twice{}", field, item,
                                                items[k] == item ? "" : fmt::format(" (also as '{}')", items[k]))};
    out.push_back(std::move(*r));
    items.push_back(item);
  }
  return out;
}

Result<Checked> check(const Input& in) {
  if (auto p = check_publisher(in.publisher); !p) return p.error();
  auto bad = [](std::string m) { return Error{Errc::invalid, std::move(m)}; };
  if (trimmed(in.title).empty())
    return bad(fmt::format("advisory {} has an empty title (casectl advisory ID set title TEXT)", in.tracking_id));
  if (!in.product || trimmed(*in.product).empty())
    return bad("the case names no product (casectl set ID --product NAME)");
  // Checked again whatever reached the database (an older version, a hand
  // edit): nothing published may carry a control or disguising character.
  auto opt = [](const std::optional<std::string>& s) { return s ? std::string_view(*s) : std::string_view(); };
  const std::pair<const char*, std::string_view> one_line[] = {{"title", in.title},
                                                               {"product", opt(in.product)},
                                                               {"versions", opt(in.versions)},
                                                               {"credit", opt(in.credit)},
                                                               {"fixed", opt(in.fixed)}};
  for (const auto& [name, text] : one_line)
    if (auto what = disguising_character(text)) return bad(fmt::format("{}: holds {}; set it again", name, *what));
  for (const auto& [name, text] : {std::pair{"summary", &in.summary}, {"details", &in.details},
                                   {"remediation", &in.remediation}})
    if (auto what = disguising_character(*text, true)) return bad(fmt::format("{}: holds {}; set it again", name, *what));
  Checked c;
  for (const auto& id : in.cves)
    if (!valid_cve_id(id)) return bad(fmt::format("'{}' is not a CVE id like CVE-2026-12345", id));
  if (in.cvss && in.cvss->starts_with("CVSS:4.0/")) {
    if (auto v4 = cvss::check40(*in.cvss); !v4) return v4.error();
    c.cvss_v4 = true;
  } else if (in.cvss) {
    auto v = cvss::parse31(*in.cvss);
    if (!v) return v.error();
    c.cvss = std::move(*v);
  }
  if (auto v = check_versions(in, c); !v) return v.error();
  for (const auto& url : in.references)
    if (!reference_url(url))
      return bad(fmt::format("reference '{}' is not an http(s) URL (RFC 3986, printable ASCII)", url));
  return c;
}

std::string file_name(std::string_view tracking_id) {
  std::string out;
  for (char ch : tracking_id) {
    char c = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-';
    out.push_back(keep ? c : '_');
  }
  return out + ".json";
}

int year_of(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm.tm_year + 1900;
}

std::string document_path(const Input& in) {
  return fmt::format("{}/{}", year_of(in.initial_release), file_name(in.tracking_id));
}

std::string canonical_url(const Input& in) { return in.publisher.base_url + "/" + document_path(in); }

}  // namespace cased::advisory
