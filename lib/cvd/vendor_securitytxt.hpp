// Reading a vendor's RFC 9116 security.txt, and the names of the vendor
// book. Pure functions over the bytes, bounded and linear in their input:
// the signature, if any, is checked by the caller (Crypto::verify_clearsigned).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace cased {

// A vendor's name in the book: [a-z0-9][a-z0-9._-]*, at most 64 characters.
inline constexpr std::size_t kMaxVendorName = 64;
bool valid_vendor_name(std::string_view name);

// A security.txt larger than this is refused, not read.
inline constexpr std::size_t kMaxSecurityTxt = 64 * 1024;

struct VendorSecurityTxtFile {
  // The Contact URIs by kind, in file order (RFC 9116 section 2.5.3).
  std::vector<std::string> mail;   // mailto: addresses as written (after "mailto:", before any '?')
  std::vector<std::string> web;    // https: URIs
  std::vector<std::string> phone;  // tel: URIs without "tel:"
  std::vector<std::string> encryption;  // Encryption values, in file order
  std::optional<std::int64_t> expires;  // Unix seconds
  bool clearsigned = false;             // an OpenPGP cleartext signature frames the fields
  std::vector<std::string> warnings;    // what was read but not used (no Expires, an unknown Contact scheme...)
};

// Parses `text` (LF or CRLF lines). A file over kMaxSecurityTxt is
// Errc::refused; one that is not UTF-8, holds a line that is neither a
// field, a comment nor blank, text outside its cleartext signature, no
// Contact, a Contact or Expires that cannot be read, or two Expires, is
// Errc::invalid with a message naming the line.
Result<VendorSecurityTxtFile> parse_vendor_securitytxt(std::string_view text);

// An RFC 9116 Expires value (RFC 3339 date-time: 2027-01-31T18:37:07Z,
// with optional fraction and a Z or +hh:mm/-hh:mm offset) as Unix seconds.
std::optional<std::int64_t> parse_securitytxt_expires(std::string_view value);

// The fingerprint of an "openpgp4fpr:" Encryption value, upper-case hex;
// nullopt for any other value.
std::optional<std::string> openpgp4fpr(std::string_view value);

}  // namespace cased
