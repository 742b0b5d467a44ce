// Triage rules (pure): why a case was closed, what a tag may be, and which
// inbound mail reopens a closed case. The store applies them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cases/routing.hpp"
#include "intake/prepare.hpp"

namespace cased {

// The reasons a case is resolved or rejected for (`status --reason`):
// fixed, duplicate, not-a-vulnerability, out-of-scope, wont-fix, spam, other.
const std::vector<std::string>& resolutions();

// resolved and rejected: the states a resolution belongs to.
bool closed_state(std::string_view state);

inline constexpr std::size_t kMaxTagLength = 64;

// Why `tag` is not a tag (a lower-case word [a-z0-9][a-z0-9._-]* of at
// most kMaxTagLength bytes), or nullopt when it is one. The message shows
// the tag through display_safe().
std::optional<std::string> tag_problem(std::string_view tag);

// Whether an inbound message that `decision` routed into a closed case
// reopens it: mail from a verified participant does; a bounce, an
// automatic message (RFC 3834: an empty envelope sender, Auto-Submitted,
// list or bulk mail), mail from the alias itself and mail from a sender who
// is not a verified participant of the case (or whose From failed DMARC) do
// not.
bool reopens_closed_case(const PreparedMessage& msg, const RoutingDecision& decision, std::string_view alias);

}  // namespace cased
