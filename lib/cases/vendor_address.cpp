#include "cases/vendor_address.hpp"

#include "cases/threading.hpp"
#include "mail/address.hpp"

namespace cased {
namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

bool vendor_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxAddressVendor) return false;
  auto first_ok = [](char c) { return (c >= 'a' && c <= 'z') || digit(c); };
  if (!first_ok(name.front())) return false;
  for (char c : name)
    if (!first_ok(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

// A case number: 1 to 2^63-1, decimal, no leading zero.
std::optional<std::int64_t> case_number(std::string_view s) {
  constexpr std::int64_t kMax = INT64_MAX;
  if (s.empty() || s.size() > 19 || s.front() == '0') return std::nullopt;
  std::int64_t n = 0;
  for (char c : s) {
    if (!digit(c)) return std::nullopt;
    int d = c - '0';
    if (n > (kMax - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

}  // namespace

std::optional<PlusTarget> parse_plus_detail(std::string_view detail) {
  auto dot = detail.find('.');
  auto id = case_number(detail.substr(0, dot));
  if (!id) return std::nullopt;
  if (dot == std::string_view::npos) return PlusTarget{*id, {}};
  std::string_view name = detail.substr(dot + 1);
  if (!vendor_name(name) || name.back() == '.') return std::nullopt;
  return PlusTarget{*id, std::string(name)};
}

PlusForm plus_target(const std::vector<std::string>& addresses, std::string_view alias) {
  auto alias_at = alias.find('@');
  if (alias_at == std::string_view::npos) return {};
  for (const auto& a : addresses) {
    if (!match_alias(a, alias).plus) continue;
    // match_alias() compared the local part up to its '+' with the alias's.
    std::string n = normalize_address(a);
    std::string_view local = std::string_view(n).substr(0, n.rfind('@'));
    return PlusForm{true, parse_plus_detail(local.substr(alias_at + 1))};
  }
  return {};
}

std::string vendor_party(std::string_view name) { return "vendor:" + std::string(name); }

}  // namespace cased
