// What the receiving MTA says about a message's authentication (RFC 8601
// Authentication-Results): DKIM, SPF and DMARC results. Only the topmost
// field counts, and only when its authserv-id is the one the operator
// trusts: fields below it, or from other servers, are the sender's words.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cased {

struct AuthResults {
  std::string authserv_id;  // as written in the field
  std::string dkim;         // lower case result ("pass", "fail", ...); "" when not reported
  std::string spf;
  std::string dmarc;
  std::string header;       // the field's value, unfolded, as received

  bool dmarc_failed() const { return dmarc == "fail"; }
  bool operator==(const AuthResults&) const = default;
};

// Parses one Authentication-Results value. Never throws; linear in its size.
// Several DKIM results (several signatures) give "pass" when any passed.
AuthResults parse_auth_results(std::string_view value);

// The topmost Authentication-Results field in the header of `raw`, when its
// authserv-id equals `trusted` (case-insensitive); nullopt otherwise, and
// always when `trusted` is empty.
std::optional<AuthResults> trusted_auth_results(std::string_view raw, std::string_view trusted);

}  // namespace cased
