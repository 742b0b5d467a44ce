#include "mail/address.hpp"

#include "core/util.hpp"

namespace cased {
namespace {

bool is_alpha_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// RFC 5322 atext: letters, digits and !#$%&'*+-/=?^_`{|}~ (ASCII only).
bool is_atext(char c) {
  if (is_alpha_digit(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '/':
    case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

bool dot_atom_text(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (s[i - 1] == '.') return false;
    } else if (!is_atext(s[i])) {
      return false;
    }
  }
  return true;
}

// "..." with qtext (printable ASCII but \ and ") and quoted-pairs of
// printable ASCII or space. A space is kept; a tab or any control is not.
bool quoted_string(std::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      if (i + 2 >= s.size()) return false;  // the closing quote cannot be escaped
      auto n = static_cast<unsigned char>(s[++i]);
      if (n < 0x20 || n > 0x7E) return false;
    } else if (c < 0x20 || c > 0x7E || c == '"') {
      return false;
    }
  }
  return true;
}

// [dtext]: printable ASCII but [ ] and \, no spaces.
bool domain_literal(std::string_view s) {
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x21 || c > 0x7E || c == '[' || c == ']' || c == '\\') return false;
  }
  return true;
}

bool host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-') return false;
      label = 0;
    } else if (is_alpha_digit(s[i]) || s[i] == '-' || s[i] == '_') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

bool valid_addr_spec(std::string_view address) {
  if (address.empty() || address.size() > 254) return false;
  auto at = address.rfind('@');
  if (at == std::string_view::npos || at == 0) return false;
  std::string_view local = address.substr(0, at), domain = address.substr(at + 1);
  if (local.size() > 64) return false;
  if (!(dot_atom_text(local) || quoted_string(local))) return false;
  return host_name(domain) || domain_literal(domain);
}

bool valid_msg_id(std::string_view id) {
  if (id.empty() || id.size() > 250) return false;
  auto at = id.rfind('@');
  if (at == std::string_view::npos || at == 0) return false;
  std::string_view left = id.substr(0, at), right = id.substr(at + 1);
  return dot_atom_text(left) && (dot_atom_text(right) || domain_literal(right));
}

std::string normalize_address(std::string_view addr) {
  std::string a = trim(addr);
  if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = trim(std::string_view(a).substr(1, a.size() - 2));
  return to_lower(a);
}

std::string rate_key(std::string_view addr) {
  std::string a = normalize_address(addr);
  auto at = a.rfind('@');
  std::string_view local(a.data(), at == std::string::npos ? a.size() : at);
  std::string domain = at == std::string::npos ? std::string() : a.substr(at);
  // Unquote: a quoted local part loses its quotes and backslash escapes.
  std::string plain;
  bool quoted = false, escaped = false;
  for (char c : local) {
    if (escaped) {
      plain += c;
      escaped = false;
    } else if (c == '\\' && quoted) {
      escaped = true;
    } else if (c == '"') {
      quoted = !quoted;
    } else {
      plain += c;
    }
  }
  if (auto plus = plain.find('+'); plus != std::string::npos) plain.resize(plus);
  return plain + domain;
}

}  // namespace cased
