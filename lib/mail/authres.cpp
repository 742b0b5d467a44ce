#include "mail/authres.hpp"

#include <vector>

#include "core/text.hpp"
#include "core/util.hpp"

namespace cased {
namespace {

// The value with comments removed (nested, outside quoted strings) and the
// ';'-separated parts split out, quoted strings kept whole.
std::vector<std::string> split_parts(std::string_view value) {
  std::vector<std::string> parts(1);
  int depth = 0;
  bool quoted = false, escaped = false;
  for (char c : value) {
    if (escaped) {
      if (depth == 0) parts.back() += c;
      escaped = false;
      continue;
    }
    if (c == '\\' && (quoted || depth > 0)) {
      escaped = true;
      if (depth == 0) parts.back() += c;
      continue;
    }
    if (quoted) {
      parts.back() += c;
      if (c == '"') quoted = false;
      continue;
    }
    if (c == '(') {
      ++depth;
      parts.back() += ' ';
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth > 0) {
      continue;
    } else if (c == '"') {
      quoted = true;
      parts.back() += c;
    } else if (c == ';') {
      parts.emplace_back();
    } else {
      parts.back() += (c == '\t' || c == '\r' || c == '\n') ? ' ' : c;
    }
  }
  return parts;
}

// "dkim/1 = pass header.d=x" → {"dkim", "pass"}.
std::pair<std::string, std::string> method_result(std::string_view part) {
  auto eq = part.find('=');
  if (eq == std::string_view::npos) return {};
  std::string method = to_lower(trim(part.substr(0, eq)));
  if (auto slash = method.find('/'); slash != std::string::npos) method = trim(method.substr(0, slash));
  std::string rest = trim(part.substr(eq + 1));
  auto end = rest.find_first_of(" \t");
  return {method, to_lower(rest.substr(0, end))};
}

}  // namespace

AuthResults parse_auth_results(std::string_view raw_value) {
  AuthResults r;
  // Kept as valid UTF-8, so that `show --json` can always print it.
  r.header = valid_utf8(trim(raw_value));
  std::string_view value = r.header;
  auto parts = split_parts(value);
  std::string first = trim(parts.front());
  r.authserv_id = first.substr(0, first.find(' '));
  for (std::size_t i = 1; i < parts.size(); ++i) {
    auto [method, result] = method_result(parts[i]);
    if (method == "dkim") {
      if (r.dkim.empty() || result == "pass") r.dkim = result;
    } else if (method == "spf") {
      if (r.spf.empty()) r.spf = result;
    } else if (method == "dmarc") {
      // Two DMARC verdicts from one server: the failing one counts.
      if (r.dmarc.empty() || result == "fail") r.dmarc = result;
    }
  }
  return r;
}

std::optional<AuthResults> trusted_auth_results(std::string_view raw, std::string_view trusted) {
  if (trusted.empty()) return std::nullopt;
  constexpr std::string_view kName = "authentication-results:";
  std::size_t pos = 0;
  while (pos < raw.size()) {
    std::size_t eol = raw.find('\n', pos);
    std::string_view line = raw.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? raw.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return std::nullopt;  // end of the header: none there
    if (line.size() < kName.size() || !iequals(line.substr(0, kName.size()), kName)) continue;
    // The topmost field decides; unfold its continuation lines.
    std::string value(line.substr(kName.size()));
    while (pos < raw.size() && (raw[pos] == ' ' || raw[pos] == '\t')) {
      eol = raw.find('\n', pos);
      std::string_view more = raw.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
      pos = eol == std::string_view::npos ? raw.size() : eol + 1;
      if (!more.empty() && more.back() == '\r') more.remove_suffix(1);
      value += ' ';
      value += trim(more);
    }
    AuthResults r = parse_auth_results(value);
    if (!iequals(r.authserv_id, trusted)) return std::nullopt;
    return r;
  }
  return std::nullopt;
}

}  // namespace cased
