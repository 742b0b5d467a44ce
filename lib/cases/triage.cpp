#include "cases/triage.hpp"

#include <fmt/format.h>

#include "cases/acknowledgement.hpp"
#include "cases/threading.hpp"
#include "core/text.hpp"

namespace cased {

const std::vector<std::string>& resolutions() {
  static const std::vector<std::string> reasons = {"fixed",   "duplicate", "not-a-vulnerability", "out-of-scope",
                                                   "wont-fix", "spam",      "other"};
  return reasons;
}

bool closed_state(std::string_view state) { return state == "resolved" || state == "rejected"; }

std::optional<std::string> tag_problem(std::string_view tag) {
  auto shown = [&] { return display_safe(std::string(tag.substr(0, kMaxTagLength + 1))); };
  if (tag.empty()) return std::string("a tag cannot be empty");
  if (tag.size() > kMaxTagLength)
    return fmt::format("tag '{}...' is longer than {} characters", shown(), kMaxTagLength);
  auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = word(tag.front());
  for (char c : tag) ok = ok && (word(c) || c == '.' || c == '_' || c == '-');
  if (!ok)
    return fmt::format("'{}' is not a tag: lower-case letters, digits and . _ - (not first), as in 'needs-info'",
                       shown());
  return std::nullopt;
}

bool reopens_closed_case(const PreparedMessage& msg, const RoutingDecision& decision, std::string_view alias) {
  // Our own mail coming back (a copy to the alias, cased's mark) is no news
  // either. Nor is mail from someone the case does not know: a case tag is
  // a guessable number, so a stranger (or a forged From) could otherwise
  // keep any closed case open, or reopen every one of them by mailing
  // [CASE#1]...[CASE#N]. Their mail is stored and noted; an analyst decides.
  return !decision.bounce && !decision.unverified && !decision.forged && !automatic_message(msg) &&
         !match_alias(decision.sender, alias).ours;
}

}  // namespace cased
