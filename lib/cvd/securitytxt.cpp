#include "cvd/securitytxt.hpp"

#include <fmt/format.h>
#include <gnutls/crypto.h>

#include <array>
#include <stdexcept>

#include "core/util.hpp"

namespace cased {

std::string wkd_hash(std::string_view local_part) {
  std::string lower = to_lower(local_part);
  std::array<unsigned char, 20> digest{};
  if (gnutls_hash_fast(GNUTLS_DIG_SHA1, lower.data(), lower.size(), digest.data()) != 0)
    throw std::runtime_error("sha1 failed");
  // z-base-32: 160 bits, five at a time, most significant first.
  static constexpr char alphabet[] = "ybndrfg8ejkmcpqxot1uwisza345h769";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char byte : digest) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

WkdLocation wkd_location(std::string_view address) {
  auto at = address.rfind('@');
  std::string_view local = address.substr(0, at);
  std::string domain = to_lower(address.substr(at + 1));
  WkdLocation w;
  w.hash = wkd_hash(local);
  w.direct = fmt::format("https://{}/.well-known/openpgpkey/hu/{}?l={}", domain, w.hash, local);
  w.advanced = fmt::format("https://openpgpkey.{0}/.well-known/openpgpkey/{0}/hu/{1}?l={2}", domain, w.hash, local);
  return w;
}

std::int64_t securitytxt_expires(const Config& config, std::int64_t now) {
  if (config.securitytxt.expires) return *config.securitytxt.expires;
  return now + std::int64_t{config.securitytxt.expires_days} * 86400;
}

std::string render_securitytxt(const Config& config, std::int64_t now) {
  const auto& st = config.securitytxt;
  std::string out;
  if (st.contact.empty()) {
    out += fmt::format("Contact: mailto:{}\n", config.case_.alias);
    // The web report form, when cased serves one at a public URL.
    if (config.web && !config.web->public_url.empty()) {
      std::string_view url = config.web->public_url;
      while (!url.empty() && url.back() == '/') url.remove_suffix(1);
      out += fmt::format("Contact: {}/\n", url);
    }
  } else {
    for (const auto& c : st.contact) out += fmt::format("Contact: {}\n", c);
  }
  out += fmt::format("Expires: {}\n", format_rfc3339(securitytxt_expires(config, now)));
  out += fmt::format("Encryption: {}\n", st.encryption.empty() ? wkd_location(config.case_.alias).direct : st.encryption);
  if (!st.preferred_languages.empty()) out += fmt::format("Preferred-Languages: {}\n", st.preferred_languages);
  const std::string& policy = st.policy.empty() ? config.ack.policy_url : st.policy;
  if (!policy.empty()) out += fmt::format("Policy: {}\n", policy);
  for (const auto& c : st.canonical) out += fmt::format("Canonical: {}\n", c);
  return out;
}

std::optional<std::string> securitytxt_expiry_warning(const Config& config, std::int64_t now) {
  if (!config.securitytxt.expires) return std::nullopt;
  std::int64_t expires = *config.securitytxt.expires;
  std::string date = format_rfc3339(expires).substr(0, 10);
  if (expires <= now)
    return fmt::format("security.txt expired on {}: publish a fresh one (casectl securitytxt --sign) and set "
                       "securitytxt.expires",
                       date);
  std::int64_t days = (expires - now) / 86400;
  if (days >= 30) return std::nullopt;
  return fmt::format("security.txt expires on {} (in {} day{}): publish a fresh one (casectl securitytxt --sign) and "
                     "set securitytxt.expires",
                     date, days, days == 1 ? "" : "s");
}

}  // namespace cased
