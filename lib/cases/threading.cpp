#include "cases/threading.hpp"

#include <cctype>
#include <charconv>

#include "core/util.hpp"
#include "mail/address.hpp"

namespace cased {

AliasMatch match_alias(std::string_view addr, std::string_view alias) {
  AliasMatch m;
  std::string a = normalize_address(addr);
  std::string want = to_lower(alias);
  auto at = a.rfind('@');
  auto want_at = want.find('@');
  if (at == std::string::npos || want_at == std::string::npos) return m;
  std::string_view local(a.data(), at), domain(a.data() + at + 1, a.size() - at - 1);
  std::string_view want_local(want.data(), want_at), want_domain(want.data() + want_at + 1, want.size() - want_at - 1);
  if (domain != want_domain) return m;
  if (local == want_local) {
    m.ours = true;
    return m;
  }
  if (local.size() > want_local.size() + 1 && local.substr(0, want_local.size()) == want_local &&
      local[want_local.size()] == '+') {
    m.ours = true;
    m.plus = true;
    std::string_view detail = local.substr(want_local.size() + 1);
    std::int64_t id = 0;
    auto [end, ec] = std::from_chars(detail.data(), detail.data() + detail.size(), id);
    if (ec == std::errc() && end == detail.data() + detail.size() && id > 0) m.case_id = id;
  }
  return m;
}

std::optional<std::int64_t> subject_tag(std::string_view subject, std::string_view tag) {
  // Looks for "[" TAG "#" digits "]" anywhere, case-insensitively on the tag.
  for (std::size_t pos = subject.find('['); pos != std::string_view::npos; pos = subject.find('[', pos + 1)) {
    std::string_view rest = subject.substr(pos + 1);
    if (rest.size() < tag.size() + 3 || !iequals(rest.substr(0, tag.size()), tag)) continue;
    rest.remove_prefix(tag.size());
    if (rest.front() != '#') continue;
    rest.remove_prefix(1);
    std::int64_t id = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), id);
    if (ec != std::errc() || end == rest.data() || end == rest.data() + rest.size() || *end != ']' || id <= 0) continue;
    return id;
  }
  return std::nullopt;
}

std::optional<std::int64_t> plus_route(const std::vector<std::string>& addresses, std::string_view alias) {
  // The first plus-form decides, even when it names no case number.
  for (const auto& a : addresses) {
    AliasMatch m = match_alias(a, alias);
    if (m.plus) return m.case_id;
  }
  return std::nullopt;
}

}  // namespace cased
