#include "cases/bounce.hpp"

#include <algorithm>
#include <unordered_set>

#include "core/util.hpp"
#include "mail/address.hpp"

namespace cased {

std::optional<std::size_t> header_end(std::string_view raw) {
  constexpr auto npos = std::string_view::npos;
  auto lf = raw.find("\n\n"), crlf = raw.find("\n\r\n");
  std::size_t start = std::min(lf == npos ? npos : lf + 2, crlf == npos ? npos : crlf + 3);
  if (start == npos) return std::nullopt;
  return start;
}

std::optional<BounceInfo> bounce_info(const PreparedMessage& msg) {
  const ParsedMessage& pm = msg.parsed;
  std::string from = normalize_address(pm.from);
  std::string local = from.substr(0, from.find('@'));
  bool report = pm.root.is("multipart", "report") && iequals(pm.root.param("report-type"), "delivery-status");
  bool robot = local == "mailer-daemon" || local == "postmaster" || (msg.envelope.mail_from && msg.envelope.mail_from->empty());
  if (!report && !robot) return std::nullopt;
  BounceInfo info;
  // Skip the bounce's own header: what follows quotes the original.
  auto body_start = header_end(msg.raw);
  if (!body_start) return std::nullopt;
  std::string_view body = std::string_view(msg.raw).substr(*body_start);
  std::unordered_set<std::string> seen;  // recipients already listed: one lookup each, not a scan
  std::size_t pos = 0;
  while (pos < body.size()) {
    auto eol = body.find('\n', pos);
    std::string_view line = body.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? body.size() : eol + 1;
    std::string lower = to_lower(line.substr(0, 32));
    if (lower.rfind("message-id:", 0) == 0) {
      auto lt = line.find('<'), gt = line.find('>');
      // A bounce quotes one message; each id costs a query, so a few are enough.
      if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt && info.quoted_ids.size() < 16)
        info.quoted_ids.emplace_back(line.substr(lt + 1, gt - lt - 1));
    } else if (lower.rfind("final-recipient:", 0) == 0 || lower.rfind("original-recipient:", 0) == 0) {
      auto semi = line.find(';');
      std::string addr = normalize_address(trim(line.substr(semi == std::string_view::npos ? line.find(':') + 1 : semi + 1)));
      if (!addr.empty() && seen.insert(addr).second) info.recipients.push_back(addr);
    }
  }
  if (info.quoted_ids.empty()) return std::nullopt;
  return info;
}

}  // namespace cased
