// Where the vendor book's keys and contacts come from: a key file, a
// fingerprint or an https URL, and a vendor's RFC 9116 security.txt (a
// file or an https URL). Everything is checked before anything is
// imported or stored; a key imported only to check a signature that then
// proves bad is taken back.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <utility>

#include "cmd_vendor.hpp"
#include "context.hpp"
#include "core/text.hpp"
#include "core/util.hpp"
#include "cvd/vendor_securitytxt.hpp"
#include "mail/address.hpp"
#include "net/https_get.hpp"

namespace cased::cli {
namespace {

// The largest key file fetched by URL.
constexpr std::size_t kMaxKeyFetch = 1 << 20;

void warn(const std::string& text) { std::cerr << "casectl: warning: " << text << "\n"; }

// "scheme://...": a URL (only https is fetched), not a file name.
bool is_url(const std::string& source) {
  std::size_t sep = source.find("://");
  if (sep == std::string::npos || sep == 0 || !std::isalpha(static_cast<unsigned char>(source[0]))) return false;
  return std::all_of(source.begin(), source.begin() + static_cast<std::ptrdiff_t>(sep), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

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

// The body at `url`, at most `max` bytes, fetched with the [vendors] settings;
// a failure ends the command, saying what failed.
std::string fetch(Context& ctx, const std::string& url, std::size_t max) {
  net::HttpsGetOptions o;
  o.ca_file = ctx.config.vendors.ca_file;
  o.max_bytes = max;
  o.connect_timeout = o.read_timeout = std::chrono::seconds(ctx.config.vendors.fetch_timeout_seconds);
  o.deadline = 3 * o.read_timeout;
  if (auto u = net::parse_https_url(url); !u) fail(ExitCode::usage, u.error().message + "; nothing changed");
  auto got = net::https_get(url, o);
  if (!got) fail(exit_for(got.error().code), got.error().message + "; nothing changed");
  return std::move(got->body);
}

void refuse_own(const Crypto& crypto, const std::string& fpr) {
  const auto& own = crypto.own_fingerprints();
  if (std::find(own.begin(), own.end(), fpr) != own.end())
    fail(ExitCode::refused, fmt::format("key {} is one of our own (the alias's) keys, not a vendor's", fpr));
}

PendingKey key_in_keyring(Crypto& crypto, const std::string& fpr, const char* hint) {
  auto key = crypto.find_key(fpr);
  if (!key || key->fingerprint != fpr) fail(ExitCode::not_found, fmt::format("no key {} in gpg.home: {}", fpr, hint));
  refuse_own(crypto, fpr);
  if (!key->can_encrypt)
    fail(ExitCode::refused, fmt::format("key {} cannot encrypt (expired, revoked or no encryption subkey)", fpr));
  return PendingKey{*key, "", fpr};
}

// The one public key in `data` (from `origin`), checked, not imported.
PendingKey key_in_data(Crypto& crypto, std::string data, const std::string& origin) {
  std::string where = display_safe(clip(origin, 200));
  auto secret = [&] {
    fail(ExitCode::refused,
         fmt::format("{} holds a secret key: give the vendor's public key only (gpg --export)", where));
  };
  if (data.find("PRIVATE KEY BLOCK") != std::string::npos) secret();
  auto keys = crypto.keys_in(data);
  if (keys.empty()) fail(ExitCode::usage, fmt::format("no OpenPGP key in {}; nothing changed", where));
  if (std::any_of(keys.begin(), keys.end(), [](const KeyInfo& k) { return k.secret; })) secret();
  if (keys.size() > 1)
    fail(ExitCode::refused, fmt::format("{} holds {} keys ({}, {}...): give a file with the vendor's one key", where,
                                        keys.size(), keys[0].fingerprint, keys[1].fingerprint));
  refuse_own(crypto, keys[0].fingerprint);
  if (!keys[0].can_encrypt)
    fail(ExitCode::refused, fmt::format("key {} in {} cannot encrypt (expired, revoked or no encryption subkey)",
                                        keys[0].fingerprint, where));
  return PendingKey{keys[0], std::move(data), origin};
}

// The first usable Encryption key: openpgp4fpr: (in gpg.home, or the key
// given with it) or an https URL (fetched).
void encryption_key(Context& ctx, Crypto& crypto, SecurityTxtImport& out, const std::optional<PendingKey>& given) {
  for (const auto& e : out.file.encryption) {
    auto fpr = openpgp4fpr(e);
    if (fpr && given && given->info.fingerprint == *fpr) {
      if (!out.key) out.key = given;
    } else if (fpr) {
      auto key = crypto.find_key(*fpr);
      if (!key || key->fingerprint != *fpr)
        fail(ExitCode::refused,
             fmt::format("security.txt names the key {} (Encryption: openpgp4fpr:), which is not in gpg.home: get "
                         "the vendor's key and give it with --key FILE (vendor add or edit), then import again",
                         *fpr));
      if (!key->can_encrypt) fail(ExitCode::refused, fmt::format("the security.txt key {} cannot encrypt", *fpr));
      refuse_own(crypto, *fpr);
      if (!out.key) out.key = PendingKey{*key, "", *fpr};
    } else if (is_url(e)) {
      if (out.key) continue;
      std::cerr << fmt::format("security.txt: fetching its Encryption key {}\n", display_safe(clip(e, 200)));
      out.key = key_in_data(crypto, fetch(ctx, e, kMaxKeyFetch), e);
    } else {
      out.warnings.push_back(fmt::format("Encryption {} not used (only openpgp4fpr: and https: are read)",
                                         display_safe(clip(e, 100))));
    }
  }
}

// The signature of a clearsigned security.txt, reported; a bad one refuses the file.
void check_signature(SecurityTxtImport& out, const ClearsignedCheck& c) {
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

// Imports a pending key unless gpg.home holds it; true if it was new.
bool import_key(Crypto& crypto, const PendingKey& k) {
  if (k.data.empty() || crypto.find_key(k.info.fingerprint)) return false;
  auto imported = crypto.import_keys(k.data);
  if (imported.size() != 1 || imported[0].fingerprint != k.info.fingerprint)
    fail(ExitCode::failure, fmt::format("gpg did not import key {} from {}", k.info.fingerprint,
                                        display_safe(clip(k.origin, 200))));
  return true;
}

void warn_unnamed(const KeyInfo& key, const std::vector<std::string>& contacts) {
  bool named = std::any_of(contacts.begin(), contacts.end(), [&](const std::string& c) {
    return std::find(key.addresses.begin(), key.addresses.end(), c) != key.addresses.end();
  });
  if (!named && !contacts.empty())
    warn(fmt::format("no user id of key {} names a contact of the vendor ({}); pinned to them all the same",
                     key.fingerprint, display_safe(key.uid)));
}

}  // namespace

PendingKey check_vendor_key(Context& ctx, Crypto& crypto, const std::string& spec) {
  if (auto fpr = typed_fingerprint(spec))
    return key_in_keyring(crypto, *fpr, "give the vendor's key file with --key FILE");
  if (is_url(spec)) return key_in_data(crypto, fetch(ctx, spec, kMaxKeyFetch), spec);
  return key_in_data(crypto, ctx.read_file(spec), spec);
}

SecurityTxtImport read_securitytxt(Context& ctx, Crypto& crypto, const VendorArgs& va, const std::string& source,
                                   const std::optional<PendingKey>& given) {
  SecurityTxtImport out;
  bool fetched = is_url(source);
  out.text = fetched ? fetch(ctx, source, kMaxSecurityTxt) : ctx.read_file(source);
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
  if (f.expires && *f.expires <= now) {
    std::string what = fmt::format("security.txt expired on {}", format_rfc3339(*f.expires));
    if (!va.allow_expired)
      fail(ExitCode::refused, what + ": its contacts may be out of date; nothing changed (--allow-expired takes it)");
    out.warnings.push_back(what + ": its contacts may be out of date");
  }
  if (!f.clearsigned && !fetched && !va.allow_unsigned)
    fail(ExitCode::refused, "security.txt is not signed and was read from a file: nothing vouches for its contacts; "
                            "nothing changed (give its https URL, or --allow-unsigned takes it)");
  encryption_key(ctx, crypto, out, given);
  if (!f.clearsigned)
    out.warnings.push_back(fetched ? "security.txt is not signed: its contacts rest on the site's certificate only"
                                   : "security.txt is not signed: its contacts are not authenticated");
  return out;
}

void commit_keys(Crypto& crypto, const std::optional<PendingKey>& key, SecurityTxtImport* st,
                 const std::optional<std::string>& final_key, const std::vector<std::string>& contacts) {
  std::vector<const PendingKey*> pending;
  if (key) pending.push_back(&*key);
  if (st && st->key && !(key && key->info.fingerprint == st->key->info.fingerprint)) pending.push_back(&*st->key);
  std::vector<std::string> added;  // imported here, to be taken back if the signature is bad
  if (st && st->file.clearsigned) {
    ClearsignedCheck c = check(crypto.verify_clearsigned(st->text));
    if (c.status == SignatureState::unknown_key &&
        std::any_of(pending.begin(), pending.end(), [](const PendingKey* k) { return !k->data.empty(); })) {
      for (const PendingKey* k : pending)
        if (import_key(crypto, *k)) added.push_back(k->info.fingerprint);
      c = check(crypto.verify_clearsigned(st->text));
    }
    if (c.status != SignatureState::good && c.status != SignatureState::unknown_key) crypto.remove_public_keys(added);
    check_signature(*st, c);
  }
  std::vector<std::string> unused;
  bool warned = false;
  for (const PendingKey* k : pending) {
    if (final_key && *final_key == k->info.fingerprint) {
      import_key(crypto, *k);
      if (!std::exchange(warned, true)) warn_unnamed(k->info, contacts);
    } else if (std::find(added.begin(), added.end(), k->info.fingerprint) != added.end()) {
      unused.push_back(k->info.fingerprint);
    }
  }
  crypto.remove_public_keys(unused);
}

}  // namespace cased::cli
