// casectl vendor: the global vendor contact book (cmd_vendor.cpp), and the
// key files and security.txt files that feed it (vendor_sources.cpp).
#pragma once

#include <CLI/CLI.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/crypto.hpp"
#include "cvd/vendor_securitytxt.hpp"
#include "store/vendors.hpp"

namespace cased::cli {

struct Context;
struct Args;

// The options of `vendor`: each optional field is set only when given
// ("none" clears it in `edit`).
struct VendorArgs {
  std::string name, source;          // NAME; import-securitytxt's FILE|URL
  std::vector<std::string> contacts;  // --contact, repeatable
  bool contacts_given = false;
  std::optional<std::string> key, securitytxt, phone, postal, url, note;
  std::array<std::string, 6> raw;  // what CLI11 parsed, before the callback sets the optionals
  // A security.txt past its Expires is stale (RFC 9116 2.5.5), and an
  // unsigned one read from a file has no origin anyone vouches for (one
  // fetched over verified HTTPS has its site's): both are refused unless
  // the analyst says otherwise.
  bool allow_expired = false, allow_unsigned = false;
};

void vendor_options(CLI::App& c, Args& a);
int cmd_vendor(Context& ctx, const Args& a);

// A vendor key brought by the analyst or a security.txt, checked (one
// public key that can encrypt, not ours) but not yet imported. `data` is
// empty for a key already in gpg.home.
struct PendingKey {
  KeyInfo info;
  std::string data;
  std::string origin;  // the file or URL, for messages
};

// What a security.txt gave, checked (vendor_sources.cpp).
struct SecurityTxtImport {
  std::vector<std::string> mail;   // normalised addr-specs
  std::optional<std::string> url, phone;
  std::optional<PendingKey> key;   // its first usable Encryption key (openpgp4fpr: in gpg.home, or fetched)
  VendorSecurityTxt record;
  std::vector<std::string> warnings;
  std::string text;  // as read
  VendorSecurityTxtFile file;
};

// The checks, which change nothing: the key `spec` (a fingerprint in
// gpg.home, a key FILE or an https URL); the security.txt at `source` (a
// FILE or an https URL), refusing a malformed or oversized one, with its
// Encryption key checked (fetched when an https URL; an openpgp4fpr: key
// must be in gpg.home or be `given`, the key of --key).
PendingKey check_vendor_key(Context& ctx, Crypto& crypto, const std::string& spec);
SecurityTxtImport read_securitytxt(Context& ctx, Crypto& crypto, const VendorArgs& va, const std::string& source,
                                   const std::optional<PendingKey>& given = std::nullopt);

// Then the changes to the keyring: verifies the security.txt's signature
// (with the keys brought along, so that a file signed by the vendor's new
// key verifies) and refuses a bad one, taking back any key imported for
// that check; then imports the pending keys that the entry uses (its
// final `key`). Warns when no user id of that key names one of `contacts`.
void commit_keys(Crypto& crypto, const std::optional<PendingKey>& key, SecurityTxtImport* st,
                 const std::optional<std::string>& final_key, const std::vector<std::string>& contacts);

}  // namespace cased::cli
