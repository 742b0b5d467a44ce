#include "cases/acknowledgement.hpp"

#include "cases/threading.hpp"
#include "mail/address.hpp"

namespace cased {

bool automatic_message(const PreparedMessage& msg) {
  const ParsedMessage& pm = msg.parsed;
  // An empty envelope sender is a bounce or an automatic message (RFC 3834 §2).
  if (msg.envelope.mail_from && msg.envelope.mail_from->empty()) return true;
  if (!pm.auto_submitted.empty() && pm.auto_submitted != "no") return true;
  if (pm.precedence == "bulk" || pm.precedence == "list" || pm.precedence == "junk") return true;
  return !pm.list_id.empty() || !pm.cased_mark.empty();
}

std::optional<std::string> acknowledgement_address(const PreparedMessage& msg, std::string_view alias) {
  const ParsedMessage& pm = msg.parsed;
  if (automatic_message(msg)) return std::nullopt;
  std::string address = normalize_address(pm.reply_to.empty() ? pm.from : pm.reply_to);
  if (!valid_addr_spec(address)) return std::nullopt;
  auto at = address.rfind('@');
  std::string local = address.substr(0, at);
  for (const char* robot : {"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply",
                            "bounce", "bounces"})
    if (local == robot || local.rfind(std::string(robot) + "+", 0) == 0) return std::nullopt;
  if (local.rfind("owner-", 0) == 0 || (local.size() > 8 && local.substr(local.size() - 8) == "-request"))
    return std::nullopt;
  if (match_alias(address, alias).ours) return std::nullopt;
  return address;
}

}  // namespace cased
