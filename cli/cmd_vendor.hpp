// casectl vendor: the global vendor contact book (cmd_vendor.cpp), and the
// key files and security.txt files that feed it (vendor_sources.cpp).
#pragma once

#include <CLI/CLI.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cvd/vendor_securitytxt.hpp"
#include "store/vendors.hpp"

namespace cased {
class Crypto;
}

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
};

void vendor_options(CLI::App& c, Args& a);
int cmd_vendor(Context& ctx, const Args& a);

// What a security.txt gave, checked (vendor_sources.cpp).
struct SecurityTxtImport {
  std::vector<std::string> mail;   // normalised addr-specs
  std::optional<std::string> url, phone;
  std::optional<std::string> key;  // an openpgp4fpr: Encryption key found in gpg.home
  VendorSecurityTxt record;
  std::vector<std::string> warnings;
  std::string text;  // as read
  VendorSecurityTxtFile file;
};

// Reads and parses the security.txt at `source` (a file; a URL is refused
// for now), refusing a malformed or oversized one; then (after any --key
// is imported) checks its Encryption key and verifies its signature,
// refusing a bad one. Neither changes anything but the keyring's trust db.
SecurityTxtImport read_securitytxt(Context& ctx, const std::string& source);
void verify_securitytxt(Crypto& crypto, SecurityTxtImport& st);
// Checks the key `spec` (a fingerprint in gpg.home or a key file, imported
// when it holds exactly one public key that can encrypt); returns its
// fingerprint. Warns when no user id names one of `contacts`.
std::string vendor_key(Context& ctx, Crypto& crypto, const std::string& spec, const std::vector<std::string>& contacts);

}  // namespace cased::cli
