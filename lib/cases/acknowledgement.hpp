// Whether a new case's reporter gets an acknowledgement, and at which
// address (RFC 3834 and loop rules). Pure: the store asks, the outbox writes it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "intake/prepare.hpp"

namespace cased {

// Bounces, automatic replies, list and bulk mail (RFC 3834), and mail
// carrying cased's own mark: nobody to answer.
bool automatic_message(const PreparedMessage& msg);

// nullopt for bounces, automatic and list mail, robots and the alias itself.
std::optional<std::string> acknowledgement_address(const PreparedMessage& msg, std::string_view alias);

}  // namespace cased
