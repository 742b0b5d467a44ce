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

namespace {

// The recipients of one per-recipient block of a report (RFC 3464 2.3),
// sorted by its Action when the block ends (an empty line or the end).
class RecipientBlocks {
 public:
  explicit RecipientBlocks(BounceInfo& info) : info_(info) {}
  void recipient(std::string addr) {
    if (!addr.empty()) addrs_.push_back(std::move(addr));
  }
  void action(std::string_view value) { action_ = to_lower(trim(value)); }
  void end() {
    bool reached = action_ == "delivered" || action_ == "relayed" || action_ == "expanded";
    if (action_ != "delayed")
      for (auto& a : addrs_)
        if ((reached ? seen_delivered_ : seen_failed_).insert(a).second)
          (reached ? info_.delivered : info_.recipients).push_back(std::move(a));
    addrs_.clear();
    action_.clear();
  }

 private:
  BounceInfo& info_;
  std::vector<std::string> addrs_;
  std::string action_;
  // Recipients already listed: one lookup each, not a scan.
  std::unordered_set<std::string> seen_failed_, seen_delivered_;
};

}  // namespace

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
  RecipientBlocks blocks(info);
  std::size_t pos = 0;
  while (pos < body.size()) {
    auto eol = body.find('\n', pos);
    std::string_view line = body.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? body.size() : eol + 1;
    std::string lower = to_lower(line.substr(0, 32));
    if (trim(line).empty()) {
      blocks.end();
    } else if (lower.rfind("message-id:", 0) == 0) {
      auto lt = line.find('<'), gt = line.find('>');
      // A bounce quotes one message; each id costs a query, so a few are enough.
      if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt && info.quoted_ids.size() < 16)
        info.quoted_ids.emplace_back(line.substr(lt + 1, gt - lt - 1));
    } else if (lower.rfind("final-recipient:", 0) == 0 || lower.rfind("original-recipient:", 0) == 0) {
      auto semi = line.find(';');
      blocks.recipient(normalize_address(trim(line.substr(semi == std::string_view::npos ? line.find(':') + 1 : semi + 1))));
    } else if (lower.rfind("action:", 0) == 0) {
      blocks.action(line.substr(7));
    }
  }
  blocks.end();
  if (info.quoted_ids.empty()) return std::nullopt;
  return info;
}

}  // namespace cased
