// Keys and signing with GPGME; incoming mail is in pgp_shapes.cpp.
#include "crypto/crypto.hpp"

#include <fmt/format.h>
#include <gpgme.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "crypto/pgp_gpgme.hpp"
#include "mail/address.hpp"
#include "core/util.hpp"

namespace cased {
namespace pgp {

Data data_over(std::string_view bytes) {
  gpgme_data_t d = nullptr;
  if (gpgme_data_new_from_mem(&d, bytes.data(), bytes.size(), 0) != 0) throw std::bad_alloc();
  return Data(d);
}

Data data_out() {
  gpgme_data_t d = nullptr;
  if (gpgme_data_new(&d) != 0) throw std::bad_alloc();
  return Data(d);
}

std::string read_all(gpgme_data_t d) {
  std::string out;
  gpgme_data_seek(d, 0, SEEK_SET);
  char buf[16384];
  for (;;) {
    ssize_t n = gpgme_data_read(d, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

BoundedSink::BoundedSink(std::uint64_t limit) : limit_(limit) {
  cbs_.read = &BoundedSink::read;
  cbs_.write = &BoundedSink::write;
  gpgme_data_t d = nullptr;
  if (gpgme_data_new_from_cbs(&d, &cbs_, this) != 0) throw std::bad_alloc();
  data_.reset(d);
}

ssize_t BoundedSink::write(void* self, const void* buffer, size_t size) {
  auto* sink = static_cast<BoundedSink*>(self);
  if (size > sink->limit_ - std::min<std::uint64_t>(sink->limit_, sink->bytes_.size())) {
    sink->overflowed_ = true;
    errno = EFBIG;
    return -1;
  }
  sink->bytes_.append(static_cast<const char*>(buffer), size);
  return static_cast<ssize_t>(size);
}

ssize_t BoundedSink::read(void*, void*, size_t) {
  errno = EINVAL;  // an output only
  return -1;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

KeyInfo key_info(gpgme_key_t k) {
  KeyInfo info;
  info.fingerprint = k->fpr ? upper(k->fpr) : "";
  info.secret = k->secret != 0;
  for (gpgme_user_id_t u = k->uids; u; u = u->next) {
    if (info.uid.empty() && u->uid) info.uid = u->uid;
    if (u->email && *u->email && !u->revoked && !u->invalid) info.addresses.push_back(normalize_address(u->email));
  }
  if (k->subkeys && k->subkeys->expires > 0) info.expires = k->subkeys->expires;
  info.can_encrypt = k->can_encrypt && !k->revoked && !k->expired && !k->disabled && !k->invalid;
  return info;
}

std::string gpg_error_text(gpgme_error_t err) {
  switch (gpgme_err_code(err)) {
    case GPG_ERR_NO_SECKEY: return "no secret key for this message";
    case GPG_ERR_BAD_DATA:
    case GPG_ERR_INV_DATA:
    case GPG_ERR_NO_DATA: return "corrupt or not OpenPGP data";
    case GPG_ERR_DECRYPT_FAILED: return "decryption failed (no usable secret key, or corrupt data)";
    case GPG_ERR_UNSUPPORTED_ALGORITHM: return "unsupported algorithm";
    case GPG_ERR_TIMEOUT: return "gpg did not finish in time on this message; given up";
    default: return gpgme_strerror(err);
  }
}

void mark_subtree(MimePart& p, bool encrypted, bool is_signed) {
  if (encrypted) p.encrypted = true;
  if (is_signed) p.is_signed = true;
  for (auto& c : p.children) mark_subtree(c, encrypted, is_signed);
}

std::string to_crlf(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 32);
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out.push_back('\r');
    out.push_back(in[i]);
  }
  return out;
}

Ctx make_context(const std::string& home, gpgme_protocol_t protocol) {
  gpgme_ctx_t c = nullptr;
  if (gpgme_new(&c) != 0) throw std::runtime_error("cannot create a GPGME context");
  Ctx ctx(c);
  gpgme_set_protocol(c, protocol);
  if (gpgme_ctx_set_engine_info(c, protocol, nullptr, home.c_str()) != 0)
    throw std::runtime_error("cannot use GNUPGHOME " + home);
  gpgme_set_armor(c, 1);
  // Never wait for a pinentry: a passphrase-protected key fails fast instead of hanging delivery.
  gpgme_set_pinentry_mode(c, GPGME_PINENTRY_MODE_LOOPBACK);
  gpgme_set_offline(c, 1);
  return ctx;
}

}  // namespace pgp

using namespace pgp;

namespace {

// Our own secret keys, per GNUPGHOME, for the life of the process.
struct OwnKeys {
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<std::string>> by_home;
};
OwnKeys& own_keys_by_home() {
  static OwnKeys own;
  return own;
}

}  // namespace

SignatureOutcome Crypto::Impl::signatures(gpgme_verify_result_t vr) {
  SignatureOutcome out;
  if (!vr || !vr->signatures) return out;
  gpgme_signature_t s = vr->signatures;
  gpgme_err_code_t code = gpgme_err_code(s->status);
  if (code == GPG_ERR_NO_ERROR || code == GPG_ERR_KEY_EXPIRED || code == GPG_ERR_SIG_EXPIRED ||
      code == GPG_ERR_CERT_REVOKED) {
    // Cryptographically valid. Trust is decided by pinning, not the web of trust.
    out.status = code == GPG_ERR_NO_ERROR ? SignatureState::good : SignatureState::bad;
  } else if (code == GPG_ERR_NO_PUBKEY) {
    out.status = SignatureState::unknown_key;
  } else {
    out.status = SignatureState::bad;
  }
  if (out.status == SignatureState::unknown_key || !s->fpr) return out;
  if (auto hit = signer_cache.find(s->fpr); hit != signer_cache.end()) {
    SignatureState status = out.status;
    out = hit->second;
    out.status = status;
    return out;
  }
  gpgme_key_t k = nullptr;
  // The signature names the signing subkey; report the primary key.
  if (gpgme_get_key(ctx.get(), s->fpr, &k, 0) == 0 && k) {
    Key owner(k);
    KeyInfo info = key_info(k);
    out.signer = info.fingerprint;
    out.signer_uid = info.uid;
    out.addresses = info.addresses;
    if (signer_cache.size() >= kSignerCacheMax) signer_cache.clear();
    signer_cache.emplace(s->fpr, out);
  }
  return out;
}

gpgme_error_t Crypto::Impl::probe_agent() {
  auto limit = std::clamp(timeout / 2, std::chrono::seconds(1), std::chrono::seconds(5));
  return timed_op().run([](gpgme_ctx_t oc) { return gpgme_op_keylist_start(oc, nullptr, 1); }, limit);
}

bool Crypto::Impl::agent_answers() {
  try {
    gpgme_error_t err = probe_agent();
    return gpgme_err_code(err) == GPG_ERR_NO_ERROR || gpgme_err_code(err) == GPG_ERR_EOF;
  } catch (const CryptoTimeout&) {
    return false;
  }
}

Result<Key> Crypto::Impl::secret_key(const std::string& fpr) {
  gpgme_key_t sk = nullptr;
  if (gpgme_get_key(ctx.get(), fpr.c_str(), &sk, 1) != 0 || !sk) return Error{Errc::invalid, "no signing key " + fpr};
  return Key(sk);
}

Crypto::Crypto(const std::string& home, std::chrono::seconds timeout, std::uint64_t max_plaintext)
    : impl_(std::make_unique<Impl>(home, timeout, max_plaintext)) {
  static std::once_flag init;
  std::call_once(init, [] {
    gpgme_check_version(nullptr);
    gpgme_set_locale(nullptr, LC_CTYPE, "C");
  });
  if (gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP) != 0) throw std::runtime_error("gpg is not available");
  impl_->ctx = make_context(home);
  // Listing secret keys asks gpg-agent. Done once per process and home (the
  // daemon does it at start-up), so that a worker's Crypto made later never
  // waits on an agent that has hung since; our own keys do not change while
  // we run, since mail can never import a secret key.
  auto& own = own_keys_by_home();
  std::lock_guard lock(own.mutex);
  auto known = own.by_home.find(home);
  if (known == own.by_home.end()) {
    // The listing below has no time limit: ask with one first, so that a
    // hung agent is a CryptoTimeout here (retried later), not a process
    // that never starts. Any other answer, even an error, is an agent that
    // answers: the listing goes on as before.
    try {
      impl_->probe_agent();
    } catch (const CryptoTimeout&) {
      throw CryptoTimeout(fmt::format("gpg-agent of {} did not answer a request for the secret keys", home));
    }
    std::vector<std::string> fprs;
    for (const auto& k : secret_keys()) fprs.push_back(k.fingerprint);
    known = own.by_home.emplace(home, std::move(fprs)).first;
  }
  impl_->own_fingerprints = known->second;
}

void Crypto::remember_own_keys(const std::string& home, std::vector<std::string> fingerprints) {
  auto& own = own_keys_by_home();
  std::lock_guard lock(own.mutex);
  own.by_home[home] = std::move(fingerprints);
}

const std::vector<std::string>& Crypto::own_fingerprints() const { return impl_->own_fingerprints; }

Crypto::~Crypto() = default;

std::vector<KeyInfo> Crypto::secret_keys() {
  std::vector<KeyInfo> out;
  gpgme_ctx_t c = impl_->ctx.get();
  if (gpgme_op_keylist_start(c, nullptr, 1) != 0) return out;
  gpgme_key_t k = nullptr;
  while (gpgme_op_keylist_next(c, &k) == 0) {
    Key owner(k);
    out.push_back(key_info(k));
  }
  gpgme_op_keylist_end(c);
  return out;
}

std::optional<KeyInfo> Crypto::find_key(std::string_view fingerprint) {
  gpgme_key_t k = nullptr;
  std::string fpr(fingerprint);
  if (gpgme_get_key(impl_->ctx.get(), fpr.c_str(), &k, 0) != 0 || !k) return std::nullopt;
  Key owner(k);
  return key_info(k);
}

std::vector<KeyInfo> Crypto::keys_for(std::string_view address) {
  std::vector<KeyInfo> out;
  std::string want = normalize_address(address);
  std::string pattern = "<" + want + ">";
  gpgme_ctx_t c = impl_->ctx.get();
  if (gpgme_op_keylist_start(c, pattern.c_str(), 0) != 0) return out;
  gpgme_key_t k = nullptr;
  while (gpgme_op_keylist_next(c, &k) == 0) {
    Key owner(k);
    KeyInfo info = key_info(k);
    if (std::find(info.addresses.begin(), info.addresses.end(), want) != info.addresses.end()) out.push_back(info);
  }
  gpgme_op_keylist_end(c);
  return out;
}

std::vector<KeyInfo> Crypto::import_keys(std::string_view bytes) {
  std::vector<KeyInfo> out;
  gpgme_ctx_t c = impl_->ctx.get();
  impl_->signer_cache.clear();  // an import may add user ids or revoke
  // Look before importing: a block that carries one of our own keys is
  // refused whole, so mail can never add to or alter the alias key.
  {
    Data in = data_over(bytes);
    if (gpgme_op_keylist_from_data_start(c, in.get(), 0) != 0) return out;
    gpgme_key_t k = nullptr;
    bool own = false, any = false;
    while (gpgme_op_keylist_next(c, &k) == 0) {
      Key owner(k);
      any = true;
      if (k->fpr && impl_->is_own(upper(k->fpr))) own = true;
    }
    gpgme_op_keylist_end(c);
    if (!any) return out;
    if (own) {
      spdlog::warn("refused a key block that carries the alias's own key");
      return out;
    }
  }
  Data in = data_over(bytes);
  TimedOp& op = impl_->timed_op();
  if (impl_->run_on_content(op, [&](gpgme_ctx_t oc) { return gpgme_op_import_start(oc, in.get()); }) != 0) return out;
  gpgme_import_result_t r = gpgme_op_import_result(op.get());
  for (gpgme_import_status_t s = r ? r->imports : nullptr; s; s = s->next) {
    if (s->result != 0 || !s->fpr) continue;
    if (auto info = find_key(s->fpr)) {
      if (std::none_of(out.begin(), out.end(), [&](auto& e) { return e.fingerprint == info->fingerprint; }))
        out.push_back(*info);
    }
  }
  return out;
}

Result<KeyInfo> Crypto::signing_key(const std::string& configured, const std::string& alias) {
  std::string want = normalize_address(alias);
  for (const auto& k : secret_keys()) {
    if (!configured.empty()) {
      if (iequals(k.fingerprint, configured)) return k;
      continue;
    }
    if (std::find(k.addresses.begin(), k.addresses.end(), want) != k.addresses.end()) return k;
  }
  return Error{Errc::invalid, configured.empty()
                                  ? "no secret key for " + alias + " in gpg.home"
                                  : "gpg.signing_key " + configured + " has no secret key in gpg.home"};
}

namespace {

// Owns a key array for gpgme's encrypt calls.
struct KeyList {
  std::vector<gpgme_key_t> keys;
  ~KeyList() {
    for (auto k : keys)
      if (k) gpgme_key_unref(k);
  }
  gpgme_key_t* array() {
    keys.push_back(nullptr);
    return keys.data();
  }
};

}  // namespace

Result<std::string> Crypto::sign_encrypt(std::string_view plaintext, const std::string& signer,
                                         const std::vector<std::string>& recipients) {
  auto sk = impl_->secret_key(signer);
  if (!sk) return sk.error();
  KeyList list;
  for (const auto& fpr : recipients) {
    gpgme_key_t k = nullptr;
    if (gpgme_get_key(impl_->ctx.get(), fpr.c_str(), &k, 0) != 0 || !k) return Error{Errc::refused, "no key " + fpr};
    list.keys.push_back(k);
  }
  Data in = data_over(plaintext);
  Data out = data_out();
  auto err = impl_->run_signing(impl_->timed_op(sk->get()), [&](gpgme_ctx_t oc) {
    return gpgme_op_encrypt_sign_start(oc, list.array(), GPGME_ENCRYPT_ALWAYS_TRUST, in.get(), out.get());
  });
  if (!err) return err.error();
  if (*err != 0) return Error{Errc::refused, std::string("encryption failed: ") + gpgme_strerror(*err)};
  return read_all(out.get());
}

Result<std::pair<std::string, std::string>> Crypto::detach_sign(std::string_view data, const std::string& signer) {
  auto sk = impl_->secret_key(signer);
  if (!sk) return sk.error();
  Data in = data_over(data);
  Data out = data_out();
  TimedOp& op = impl_->timed_op(sk->get());
  auto err = impl_->run_signing(
      op, [&](gpgme_ctx_t oc) { return gpgme_op_sign_start(oc, in.get(), out.get(), GPGME_SIG_MODE_DETACH); });
  if (!err) return err.error();
  if (*err != 0) return Error{Errc::internal, std::string("signing failed: ") + gpgme_strerror(*err)};
  std::string micalg = "pgp-sha256";
  if (gpgme_sign_result_t r = gpgme_op_sign_result(op.get()); r && r->signatures)
    if (const char* h = gpgme_hash_algo_name(r->signatures->hash_algo)) micalg = "pgp-" + to_lower(h);
  return std::make_pair(read_all(out.get()), micalg);
}

Result<std::string> Crypto::clearsign(std::string_view text, const std::string& signer) {
  auto sk = impl_->secret_key(signer);
  if (!sk) return sk.error();
  Data in = data_over(text);
  Data out = data_out();
  auto err = impl_->run_signing(impl_->timed_op(sk->get()), [&](gpgme_ctx_t oc) {
    return gpgme_op_sign_start(oc, in.get(), out.get(), GPGME_SIG_MODE_CLEAR);
  });
  if (!err) return err.error();
  if (*err != 0) return Error{Errc::internal, std::string("signing failed: ") + gpgme_strerror(*err)};
  return read_all(out.get());
}

Result<std::string> Crypto::export_key(const std::string& fingerprint, bool armor) {
  Data out = data_out();
  gpgme_set_armor(impl_->ctx.get(), armor ? 1 : 0);
  gpgme_error_t err = gpgme_op_export(impl_->ctx.get(), fingerprint.c_str(), 0, out.get());
  gpgme_set_armor(impl_->ctx.get(), 1);
  if (err != 0) return Error{Errc::not_found, "cannot export " + fingerprint};
  std::string armored = read_all(out.get());
  if (armored.empty()) return Error{Errc::not_found, "no key " + fingerprint};
  return armored;
}

}  // namespace cased
