#include "crypto.hpp"

#include <fmt/format.h>
#include <gpgme.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "mime.hpp"
#include "threading.hpp"
#include "util.hpp"

namespace cased {
namespace {

struct CtxRelease {
  void operator()(gpgme_ctx_t c) const { gpgme_release(c); }
};
struct DataRelease {
  void operator()(gpgme_data_t d) const { gpgme_data_release(d); }
};
struct KeyUnref {
  void operator()(gpgme_key_t k) const { gpgme_key_unref(k); }
};
using Ctx = std::unique_ptr<gpgme_context, CtxRelease>;
using Data = std::unique_ptr<gpgme_data, DataRelease>;
using Key = std::unique_ptr<_gpgme_key, KeyUnref>;

// Input data over a buffer the caller keeps alive (no copy).
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

std::string to_crlf(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 32);
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out.push_back('\r');
    out.push_back(in[i]);
  }
  return out;
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

struct SignatureOutcome {
  std::string status = "none";  // good | bad | unknown-key | none
  std::optional<std::string> signer;
  std::string signer_uid;
};

// Adds the text of `code` to `out` without a message's content in it.
std::string gpg_error_text(gpgme_error_t err) {
  switch (gpgme_err_code(err)) {
    case GPG_ERR_NO_SECKEY: return "no secret key for this message";
    case GPG_ERR_BAD_DATA:
    case GPG_ERR_INV_DATA:
    case GPG_ERR_NO_DATA: return "corrupt or not OpenPGP data";
    case GPG_ERR_DECRYPT_FAILED: return "decryption failed (no usable secret key, or corrupt data)";
    case GPG_ERR_UNSUPPORTED_ALGORITHM: return "unsupported algorithm";
    default: return gpgme_strerror(err);
  }
}

// A context on `home`: OpenPGP, armored, no pinentry, offline.
Ctx make_context(const std::string& home) {
  gpgme_ctx_t c = nullptr;
  if (gpgme_new(&c) != 0) throw std::runtime_error("cannot create a GPGME context");
  Ctx ctx(c);
  gpgme_set_protocol(c, GPGME_PROTOCOL_OpenPGP);
  if (gpgme_ctx_set_engine_info(c, GPGME_PROTOCOL_OpenPGP, nullptr, home.c_str()) != 0)
    throw std::runtime_error("cannot use GNUPGHOME " + home);
  gpgme_set_armor(c, 1);
  // Never wait for a pinentry: a passphrase-protected key fails fast instead of hanging delivery.
  gpgme_set_pinentry_mode(c, GPGME_PINENTRY_MODE_LOOPBACK);
  gpgme_set_offline(c, 1);
  return ctx;
}

// One GPGME operation on a context of its own, driven by our own event loop
// (gpgme_set_io_cbs) so that it can be abandoned: GPGME's blocking calls have
// no time limit and only look at cancellation when gpg writes something, so a
// gpg waiting on a hung gpg-agent would hold a worker thread for ever.
class TimedOp {
 public:
  explicit TimedOp(const std::string& home) : ctx_(make_context(home)) {
    gpgme_io_cbs cbs{&TimedOp::add, this, &TimedOp::remove, &TimedOp::event, this};
    gpgme_set_io_cbs(ctx_.get(), &cbs);
  }
  TimedOp(const TimedOp&) = delete;
  TimedOp& operator=(const TimedOp&) = delete;

  // Readies the context for the next operation, signing with `signer` if
  // given. One context serves every operation: making one costs a
  // `gpg --version`.
  void prepare(gpgme_key_t signer) {
    watches_.clear();
    done_ = false;
    result_ = 0;
    gpgme_signers_clear(ctx_.get());
    if (signer) gpgme_signers_add(ctx_.get(), signer);
  }
  // After a cancelled operation the context is not trusted again.
  bool spoiled() const { return spoiled_; }

  gpgme_ctx_t get() const { return ctx_.get(); }

  // Starts the operation with `start` (a gpgme_op_*_start call) and runs it
  // to the end, or throws CryptoTimeout after `limit`.
  template <class Start>
  gpgme_error_t run(Start&& start, std::chrono::seconds limit) {
    if (gpgme_error_t err = start(ctx_.get()); err != 0) return err;
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::vector<pollfd> fds;
    std::vector<Watch*> ready;
    while (!done_) {
      fds.clear();
      ready.clear();
      for (auto& w : watches_)
        if (w->active) {
          fds.push_back({w->fd, static_cast<short>(w->dir ? POLLIN : POLLOUT), 0});
          ready.push_back(w.get());
        }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      int n = fds.empty() ? 0 : ::poll(fds.data(), fds.size(), static_cast<int>(std::max<std::int64_t>(0, left.count())));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 && std::chrono::steady_clock::now() >= deadline) {
        gpgme_cancel(ctx_.get());  // closes our ends; gpg dies of EPIPE once it wakes
        spoiled_ = true;
        throw CryptoTimeout(fmt::format("gpg did not finish within {} s (is gpg-agent hung?); cancelled", limit.count()));
      }
      if (n < 0) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
      for (std::size_t i = 0; i < fds.size(); ++i)
        if (fds[i].revents != 0 && ready[i]->active) ready[i]->fnc(ready[i]->fnc_data, ready[i]->fd);
    }
    return result_;
  }

 private:
  struct Watch {
    int fd;
    int dir;  // 1: GPGME reads from fd; 0: it writes
    gpgme_io_cb_t fnc;
    void* fnc_data;
    bool active = true;
  };

  static gpgme_error_t add(void* self, int fd, int dir, gpgme_io_cb_t fnc, void* fnc_data, void** tag) {
    auto* op = static_cast<TimedOp*>(self);
    op->watches_.push_back(std::make_unique<Watch>(Watch{fd, dir, fnc, fnc_data}));
    *tag = op->watches_.back().get();
    return 0;
  }
  static void remove(void* tag) { static_cast<Watch*>(tag)->active = false; }
  static void event(void* self, gpgme_event_io_t type, void* type_data) {
    if (type != GPGME_EVENT_DONE) return;
    auto* op = static_cast<TimedOp*>(self);
    op->done_ = true;
    if (auto* d = static_cast<gpgme_io_event_done_data_t>(type_data)) op->result_ = d->err ? d->err : d->op_err;
  }

  Ctx ctx_;
  std::vector<std::unique_ptr<Watch>> watches_;
  bool done_ = false;
  bool spoiled_ = false;
  gpgme_error_t result_ = 0;
};

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

struct Crypto::Impl {
  Impl(std::string h, std::chrono::seconds t) : home(std::move(h)), timeout(t) {}
  std::string home;
  std::chrono::seconds timeout;
  Ctx ctx;  // key listings and lookups; operations that reach gpg-agent use op_ctx
  std::unique_ptr<TimedOp> op_ctx;
  std::vector<std::string> own_fingerprints;  // keys we hold a secret for
  // Signing (sub)key -> primary fingerprint and user id. gpgme_get_key runs
  // gpg twice (about 20 ms, more than a small decrypt); reporters sign many
  // messages with one key. Cleared whenever keys are imported.
  std::unordered_map<std::string, std::pair<std::string, std::string>> signer_cache;
  static constexpr std::size_t kSignerCacheMax = 1024;

  SignatureOutcome signatures(gpgme_verify_result_t vr) {
    SignatureOutcome out;
    if (!vr || !vr->signatures) return out;
    gpgme_signature_t s = vr->signatures;
    gpgme_err_code_t code = gpgme_err_code(s->status);
    if (code == GPG_ERR_NO_ERROR || code == GPG_ERR_KEY_EXPIRED || code == GPG_ERR_SIG_EXPIRED ||
        code == GPG_ERR_CERT_REVOKED) {
      // Cryptographically valid. Trust is decided by pinning, not the web of trust.
      out.status = code == GPG_ERR_NO_ERROR ? "good" : "bad";
    } else if (code == GPG_ERR_NO_PUBKEY) {
      out.status = "unknown-key";
    } else {
      out.status = "bad";
    }
    if (out.status != "unknown-key" && s->fpr) {
      if (auto hit = signer_cache.find(s->fpr); hit != signer_cache.end()) {
        out.signer = hit->second.first;
        out.signer_uid = hit->second.second;
        return out;
      }
      gpgme_key_t k = nullptr;
      // The signature names the signing subkey; report the primary key.
      if (gpgme_get_key(ctx.get(), s->fpr, &k, 0) == 0 && k) {
        Key owner(k);
        KeyInfo info = key_info(k);
        out.signer = info.fingerprint;
        out.signer_uid = info.uid;
        if (signer_cache.size() >= kSignerCacheMax) signer_cache.clear();
        signer_cache.emplace(s->fpr, std::make_pair(info.fingerprint, info.uid));
      }
    }
    return out;
  }

  // The operation context, ready for one operation (signing as `signer`).
  TimedOp& timed_op(gpgme_key_t signer = nullptr) {
    if (!op_ctx || op_ctx->spoiled()) op_ctx = std::make_unique<TimedOp>(home);
    op_ctx->prepare(signer);
    return *op_ctx;
  }

  // Runs a signing operation; a timeout is a temporary error for the outbox.
  template <class Start>
  Result<gpgme_error_t> run_signing(TimedOp& op, Start&& start) {
    try {
      return op.run(std::forward<Start>(start), timeout);
    } catch (const CryptoTimeout& e) {
      return Error{Errc::temporary, e.what()};
    }
  }

  Result<Key> secret_key(const std::string& fpr) {
    gpgme_key_t sk = nullptr;
    if (gpgme_get_key(ctx.get(), fpr.c_str(), &sk, 1) != 0 || !sk) return Error{Errc::invalid, "no signing key " + fpr};
    return Key(sk);
  }

  bool is_own(const std::string& fpr) const {
    return std::find(own_fingerprints.begin(), own_fingerprints.end(), fpr) != own_fingerprints.end();
  }
};

Crypto::Crypto(const std::string& home, std::chrono::seconds timeout)
    : impl_(std::make_unique<Impl>(home, timeout)) {
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
  if (op.run([&](gpgme_ctx_t oc) { return gpgme_op_import_start(oc, in.get()); }, impl_->timeout) != 0) return out;
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

namespace {

void mark_subtree(MimePart& p, bool encrypted, bool is_signed) {
  if (encrypted) p.encrypted = true;
  if (is_signed) p.is_signed = true;
  for (auto& c : p.children) mark_subtree(c, encrypted, is_signed);
}

bool has_armor(std::string_view body, std::string_view what) {
  return body.find(std::string("-----BEGIN PGP ") + std::string(what) + "-----") != std::string_view::npos;
}

// The bytes from the BEGIN line of `what` to the end of its END line.
std::optional<std::pair<std::size_t, std::size_t>> armor_block(std::string_view body, std::string_view what,
                                                               std::string_view end_what) {
  std::string begin = "-----BEGIN PGP " + std::string(what) + "-----";
  std::string end = "-----END PGP " + std::string(end_what) + "-----";
  auto b = body.find(begin);
  if (b == std::string_view::npos) return std::nullopt;
  auto e = body.find(end, b);
  if (e == std::string_view::npos) return std::nullopt;
  e += end.size();
  while (e < body.size() && (body[e] == '\r' || body[e] == '\n' || body[e] == ' ')) ++e;
  return std::make_pair(b, e);
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

MimePart text_part(std::string body, const std::string& charset, bool encrypted, bool is_signed) {
  MimePart p;
  p.type = "text";
  p.subtype = "plain";
  p.charset = charset;
  p.body = std::move(body);
  p.encrypted = encrypted;
  p.is_signed = is_signed;
  return p;
}

// Whether any part is (or carries) OpenPGP data process() would act on.
bool looks_like_openpgp(const MimePart& p) {
  if (p.is("multipart", "encrypted") || p.is("multipart", "signed") || p.subtype == "pgp-keys" ||
      (p.type == "text" && p.body.find("-----BEGIN PGP ") != std::string::npos))
    return true;
  return std::any_of(p.children.begin(), p.children.end(), looks_like_openpgp);
}

}  // namespace

bool Crypto::has_openpgp(const ParsedMessage& msg) { return !msg.autocrypt.empty() || looks_like_openpgp(msg.root); }

void Crypto::process(ParsedMessage& msg) {
  imported_.clear();
  bool decrypt_ok = false, decrypt_failed = false;
  SignatureOutcome first_sig;
  std::string outer_subject = msg.subject;
  std::optional<std::string> protected_subject;

  auto note_signature = [&](const SignatureOutcome& s) {
    if (first_sig.status == "none" && s.status != "none") first_sig = s;
  };
  auto import_from = [&](std::string_view data, const char* source) {
    for (auto& k : import_keys(data)) imported_.push_back({k, source});
  };
  auto take_protected = [&](const MimePart& p) {
    auto is_v1 = [](const MimePart& x) { return iequals(x.param("protected-headers"), "v1"); };
    const MimePart* holder = nullptr;
    if (is_v1(p)) holder = &p;
    else
      for (const auto& ch : p.children)
        if (is_v1(ch)) {
          holder = &ch;
          break;
        }
    if (holder && !protected_subject) {
      std::string s = holder->header("Subject");
      if (!s.empty()) protected_subject = decode_header_words(trim(s));
    }
  };

  // Decrypts `ciphertext`; on success returns the plaintext and the signature.
  auto decrypt = [&](std::string_view ciphertext, std::string& plain, SignatureOutcome& sig) -> bool {
    Data in = data_over(ciphertext);
    Data out = data_out();
    TimedOp& op = impl_->timed_op();
    gpgme_error_t err = op.run(
        [&](gpgme_ctx_t oc) { return gpgme_op_decrypt_ext_start(oc, GPGME_DECRYPT_VERIFY, in.get(), out.get()); },
        impl_->timeout);
    if (err != 0) {
      decrypt_failed = true;
      if (msg.decryption_error.empty()) msg.decryption_error = gpg_error_text(err);
      return false;
    }
    decrypt_ok = true;
    plain = read_all(out.get());
    sig = impl_->signatures(gpgme_op_verify_result(op.get()));
    return true;
  };

  std::function<void(MimePart&)> walk = [&](MimePart& p) {
    if (p.is("multipart", "encrypted") && p.children.size() >= 2) {
      std::string plain;
      SignatureOutcome sig;
      if (decrypt(p.children[1].body, plain, sig)) {
        MimePart inner = parse_entity(plain);
        mark_subtree(inner, true, sig.status == "good");
        note_signature(sig);
        take_protected(inner);
        p = std::move(inner);
        walk(p);  // signed-inside-encrypted, keys inside, ...
      }
      return;
    }
    if (p.is("multipart", "signed") && p.children.size() >= 2) {
      std::string signed_bytes = to_crlf(p.children[0].raw());
      Data sig = data_over(p.children[1].body);
      Data text = data_over(signed_bytes);
      SignatureOutcome outcome;
      TimedOp& op = impl_->timed_op();
      if (op.run([&](gpgme_ctx_t oc) { return gpgme_op_verify_start(oc, sig.get(), text.get(), nullptr); },
                 impl_->timeout) == 0)
        outcome = impl_->signatures(gpgme_op_verify_result(op.get()));
      else
        outcome.status = "bad";
      note_signature(outcome);
      bool inside = p.encrypted;
      MimePart content = std::move(p.children[0]);
      mark_subtree(content, inside, outcome.status == "good");
      take_protected(content);
      p = std::move(content);
      walk(p);
      return;
    }
    if (p.type == "application" && (p.subtype == "pgp-keys")) {
      import_from(p.body, "attachment");
      return;
    }
    if (p.is("text", "plain") && p.disposition != "attachment" && p.children.empty()) {
      if (has_armor(p.body, "MESSAGE")) {
        auto block = armor_block(p.body, "MESSAGE", "MESSAGE");
        if (!block) return;
        std::string plain;
        SignatureOutcome sig;
        std::string_view body = p.body;
        if (!decrypt(body.substr(block->first, block->second - block->first), plain, sig)) return;
        note_signature(sig);
        std::string before(body.substr(0, block->first)), after(body.substr(block->second));
        bool good = sig.status == "good";
        if (blank(before) && blank(after)) {
          p.body = std::move(plain);
          p.encrypted = true;
          p.is_signed = p.is_signed || good;
        } else {
          // Text around the armor was not encrypted: keep it apart (no Efail gluing).
          MimePart mixed;
          mixed.type = "multipart";
          mixed.subtype = "mixed";
          mixed.encrypted = p.encrypted;
          if (!blank(before)) mixed.children.push_back(text_part(before, p.charset, p.encrypted, p.is_signed));
          mixed.children.push_back(text_part(std::move(plain), p.charset, true, p.is_signed || good));
          if (!blank(after)) mixed.children.push_back(text_part(after, p.charset, p.encrypted, p.is_signed));
          p = std::move(mixed);
        }
        return;
      }
      if (has_armor(p.body, "SIGNED MESSAGE")) {
        auto block = armor_block(p.body, "SIGNED MESSAGE", "SIGNATURE");
        if (!block) return;
        std::string_view body = p.body;
        Data sig = data_over(body.substr(block->first, block->second - block->first));
        Data out = data_out();
        SignatureOutcome outcome;
        TimedOp& op = impl_->timed_op();
        if (op.run([&](gpgme_ctx_t oc) { return gpgme_op_verify_start(oc, sig.get(), nullptr, out.get()); },
                   impl_->timeout) == 0) {
          outcome = impl_->signatures(gpgme_op_verify_result(op.get()));
          std::string verified = read_all(out.get());
          std::string before(body.substr(0, block->first)), after(body.substr(block->second));
          if (blank(before) && blank(after)) {
            p.body = std::move(verified);
            p.is_signed = outcome.status == "good";
          } else {
            MimePart mixed;
            mixed.type = "multipart";
            mixed.subtype = "mixed";
            if (!blank(before)) mixed.children.push_back(text_part(before, p.charset, p.encrypted, false));
            mixed.children.push_back(text_part(std::move(verified), p.charset, p.encrypted, outcome.status == "good"));
            if (!blank(after)) mixed.children.push_back(text_part(after, p.charset, p.encrypted, false));
            p = std::move(mixed);
          }
        } else {
          outcome.status = "bad";
        }
        note_signature(outcome);
        return;
      }
      if (has_armor(p.body, "PUBLIC KEY BLOCK")) {
        if (auto block = armor_block(p.body, "PUBLIC KEY BLOCK", "PUBLIC KEY BLOCK"))
          import_from(std::string_view(p.body).substr(block->first, block->second - block->first), "inline");
      }
      return;
    }
    for (auto& child : p.children) walk(child);
  };

  const bool looks_pgp = looks_like_openpgp(msg.root);

  if (!msg.autocrypt.empty()) {
    // Autocrypt: addr=...; [prefer-encrypt=mutual;] keydata=BASE64 — only for the sender's own address.
    std::string value = msg.autocrypt, addr, keydata;
    std::size_t pos = 0;
    while (pos < value.size()) {
      auto semi = value.find(';', pos);
      std::string attr = trim(value.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos));
      auto eq = attr.find('=');
      if (eq != std::string::npos) {
        std::string name = to_lower(trim(attr.substr(0, eq)));
        std::string val = attr.substr(eq + 1);
        if (name == "addr") addr = normalize_address(val);
        else if (name == "keydata") keydata = val;
      }
      if (semi == std::string::npos) break;
      pos = semi + 1;
    }
    if (!addr.empty() && addr == normalize_address(msg.from) && !keydata.empty()) {
      std::string b64;
      for (char ch : keydata)
        if (!std::isspace(static_cast<unsigned char>(ch))) b64 += ch;
      static constexpr std::string_view alphabet =
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      std::string bin;
      unsigned acc = 0;
      int bits = 0;
      for (char ch : b64) {
        auto idx = alphabet.find(ch);
        if (idx == std::string_view::npos) continue;
        acc = (acc << 6) | static_cast<unsigned>(idx);
        bits += 6;
        if (bits >= 8) {
          bits -= 8;
          bin.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
      }
      if (!bin.empty()) import_from(bin, "autocrypt");
    }
  }

  if (!looks_pgp) return;
  try {
    walk(msg.root);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const CryptoTimeout&) {
    throw;  // temporary: the caller defers the message
  } catch (const std::exception& e) {
    decrypt_failed = true;
    if (msg.decryption_error.empty()) msg.decryption_error = e.what();
  }
  msg.decryption = decrypt_failed ? "failed" : decrypt_ok ? "ok" : "none";
  msg.signature = first_sig.status;
  msg.signer = first_sig.signer;
  msg.signer_uid = first_sig.signer_uid;
  if (protected_subject) {
    msg.outer_subject = outer_subject;
    msg.subject = *protected_subject;
  }
  extract_content(msg);
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
