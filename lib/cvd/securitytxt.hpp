// Publishing the alias: an RFC 9116 security.txt, and where its key goes
// for OpenPGP Web Key Directory lookups (draft-koch-openpgp-webkey-service).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.hpp"

namespace cased {

// z-base-32 of the SHA-1 of the lower-cased local part: the WKD file name.
std::string wkd_hash(std::string_view local_part);

struct WkdLocation {
  std::string hash;
  std::string direct;    // https://example.com/.well-known/openpgpkey/hu/HASH?l=security
  std::string advanced;  // https://openpgpkey.example.com/.well-known/openpgpkey/example.com/hu/HASH?l=security
};
WkdLocation wkd_location(std::string_view address);

// The Expires to publish: securitytxt.expires, or now + expires_days.
std::int64_t securitytxt_expires(const Config& config, std::int64_t now);

// The unsigned file, Contact first (RFC 9116 section 2.5). Lines end in LF.
std::string render_securitytxt(const Config& config, std::int64_t now);

// A warning when the published security.txt (securitytxt.expires) has
// expired or expires within 30 days; nullopt when fine or not configured.
std::optional<std::string> securitytxt_expiry_warning(const Config& config, std::int64_t now);

}  // namespace cased
