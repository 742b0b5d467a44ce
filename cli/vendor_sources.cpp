// Where the vendor book's keys and contacts come from: a key file or a
// fingerprint, and a vendor's RFC 9116 security.txt. Everything is checked
// before anything is imported or stored.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <iostream>

#include "cmd_vendor.hpp"
#include "context.hpp"
#include "core/text.hpp"
#include "core/util.hpp"
#include "cvd/vendor_securitytxt.hpp"
#include "mail/address.hpp"

namespace cased::cli {
namespace {

void warn(const std::string& text) { std::cerr << "casectl: warning: " << text << "\n"; }

// A fingerprint as typed (spaces allowed), upper-case; nullopt if `spec` is not one.
std::optional<std::string> typed_fingerprint(const std::string& spec) {
  std::string fpr;
  for (char c : spec) {
    if (c == ' ') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    fpr += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (fpr.size() != 40 && fpr.size() != 64) return std::nullopt;
  return fpr;
}

void warn_unnamed(const KeyInfo& key, const std::vector<std::string>& contacts) {
  bool named = std::any_of(contacts.begin(), contacts.end(), [&](const std::string& c) {
    return std::find(key.addresses.begin(), key.addresses.end(), c) != key.addresses.end();
  });
  if (!named && !contacts.empty())
    warn(fmt::format("no user id of key {} names a contact of the vendor ({}); pinned to them all the same",
                     key.fingerprint, display_safe(key.uid)));
}

void refuse_own(const Crypto& crypto, const std::string& fpr) {
  const auto& own = crypto.own_fingerprints();
  if (std::find(own.begin(), own.end(), fpr) != own.end())
    fail(ExitCode::refused, fmt::format("key {} is one of our own (the alias's) keys, not a vendor's", fpr));
}

KeyInfo key_in_keyring(Crypto& crypto, const std::string& fpr) {
  auto key = crypto.find_key(fpr);
  if (!key || key->fingerprint != fpr)
    fail(ExitCode::not_found, fmt::format("no key {} in gpg.home: give the vendor's key file with --key FILE", fpr));
  refuse_own(crypto, fpr);
  return *key;
}

KeyInfo key_from_file(Context& ctx, Crypto& crypto, const std::string& path) {
  std::string data = ctx.read_file(path);
  if (data.find("PRIVATE KEY BLOCK") != std::string::npos)
    fail(ExitCode::refused, fmt::format("{} holds a secret key: give the vendor's public key only (gpg --export)",
                                        display_safe(path)));
  auto keys = crypto.keys_in(data);
  if (keys.empty()) fail(ExitCode::usage, fmt::format("no OpenPGP key in {}", display_safe(path)));
  if (std::any_of(keys.begin(), keys.end(), [](const KeyInfo& k) { return k.secret; }))
    fail(ExitCode::refused, fmt::format("{} holds a secret key: give the vendor's public key only (gpg --export)",
                                        display_safe(path)));
  if (keys.size() > 1)
    fail(ExitCode::refused, fmt::format("{} holds {} keys ({}, {}...): give a file with the vendor's one key",
                                        display_safe(path), keys.size(), keys[0].fingerprint, keys[1].fingerprint));
  refuse_own(crypto, keys[0].fingerprint);
  if (!keys[0].can_encrypt)
    fail(ExitCode::refused, fmt::format("key {} in {} cannot encrypt (expired, revoked or no encryption subkey)",
                                        keys[0].fingerprint, display_safe(path)));
  auto imported = crypto.import_keys(data);
  if (imported.size() != 1 || imported[0].fingerprint != keys[0].fingerprint)
    fail(ExitCode::failure, fmt::format("gpg did not import key {} from {}", keys[0].fingerprint, display_safe(path)));
  return imported[0];
}

// The signature of a clearsigned security.txt, reported; a bad one refuses the file.
void check_signature(Crypto& crypto, std::string_view text, SecurityTxtImport& out) {
  ClearsignedCheck c = check(crypto.verify_clearsigned(text));
  out.record.signed_ = true;
  if (c.status == SignatureState::good) {
    out.record.signature = "good";
    out.record.signer = c.signer;
    std::cerr << fmt::format("security.txt: good signature by {}\n", c.signer.value_or("?"));
  } else if (c.status == SignatureState::unknown_key) {
    out.record.signature = "unknown-key";
    out.record.signer = c.signing_key;
    out.warnings.push_back(fmt::format("security.txt is signed by {}, a key not in gpg.home: the signature is NOT "
                                       "checked (add the vendor's key with --key FILE and import it again)",
                                       c.signing_key.value_or("an unknown key")));
  } else {
    fail(ExitCode::refused, fmt::format("security.txt has a BAD signature{}: nothing imported",
                                        c.problem.empty() ? "" : " (" + c.problem + ")"));
  }
}

// The first Encryption: openpgp4fpr: key, which must be in gpg.home.
void encryption_key(Crypto& crypto, const VendorSecurityTxtFile& f, SecurityTxtImport& out) {
  for (const auto& e : f.encryption) {
    if (auto fpr = openpgp4fpr(e)) {
      auto key = crypto.find_key(*fpr);
      if (!key || key->fingerprint != *fpr)
        fail(ExitCode::refused,
             fmt::format("security.txt names the key {} (Encryption: openpgp4fpr:), which is not in gpg.home: get "
                         "the vendor's key and give it with --key FILE (vendor add or edit), then import again",
                         *fpr));
      if (!key->can_encrypt) fail(ExitCode::refused, fmt::format("the security.txt key {} cannot encrypt", *fpr));
      if (!out.key) out.key = *fpr;
    } else if (iequals(e.substr(0, 8), "https://")) {
      out.warnings.push_back(fmt::format("Encryption {} not fetched: fetching keys by URL is not supported yet; get "
                                         "the key and give it with --key FILE",
                                         display_safe(clip(e, 100))));
    } else {
      out.warnings.push_back(fmt::format("Encryption {} not used (only openpgp4fpr: is read)", display_safe(clip(e, 100))));
    }
  }
}

}  // namespace

std::string vendor_key(Context& ctx, Crypto& crypto, const std::string& spec, const std::vector<std::string>& contacts) {
  KeyInfo key;
  if (auto fpr = typed_fingerprint(spec)) {
    key = key_in_keyring(crypto, *fpr);
    if (!key.can_encrypt)
      fail(ExitCode::refused, fmt::format("key {} cannot encrypt (expired, revoked or no encryption subkey)", *fpr));
  } else {
    key = key_from_file(ctx, crypto, spec);
  }
  warn_unnamed(key, contacts);
  return key.fingerprint;
}

SecurityTxtImport read_securitytxt(Context& ctx, const std::string& source) {
  std::string lower = to_lower(source.substr(0, 8));
  if (lower.starts_with("https://") || lower.starts_with("http://"))
    fail(ExitCode::usage, "fetching a security.txt by URL is not supported yet: download it (curl -sSf --max-filesize "
                          "65536 URL > FILE), read it, and give the FILE");
  SecurityTxtImport out;
  out.text = ctx.read_file(source);
  auto parsed = parse_vendor_securitytxt(out.text);
  if (!parsed)
    fail(parsed.error().code == Errc::invalid ? ExitCode::usage : exit_for(parsed.error().code),
         parsed.error().message + "; nothing changed");
  out.file = std::move(*parsed);
  const VendorSecurityTxtFile& f = out.file;
  out.warnings = f.warnings;
  for (const auto& m : f.mail) {
    std::string addr = normalize_address(m);
    if (!valid_addr_spec(addr))
      fail(ExitCode::usage, fmt::format("malformed security.txt: Contact mailto:{} is not an address; nothing imported",
                                        display_safe(clip(m, 100))));
    if (std::find(out.mail.begin(), out.mail.end(), addr) == out.mail.end()) out.mail.push_back(addr);
  }
  if (!f.web.empty()) out.url = f.web.front();
  if (!f.phone.empty()) out.phone = f.phone.front();
  std::int64_t now = now_unix();
  out.record.imported = now;
  out.record.expires = f.expires;
  if (f.expires && *f.expires <= now)
    out.warnings.push_back(fmt::format("security.txt expired on {}: its contacts may be out of date",
                                       format_rfc3339(*f.expires)));
  return out;
}

void verify_securitytxt(Crypto& crypto, SecurityTxtImport& st) {
  encryption_key(crypto, st.file, st);
  if (st.file.clearsigned) check_signature(crypto, st.text, st);
  else st.warnings.push_back("security.txt is not signed: its contacts are not authenticated");
}

}  // namespace cased::cli
