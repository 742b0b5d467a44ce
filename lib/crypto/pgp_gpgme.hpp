// GPGME plumbing shared by the PGP layer (crypto.cpp: keys and signing;
// pgp_shapes.cpp: incoming mail): owners for GPGME handles, an output sink
// with a size limit, and operations with a time limit. Internal to libcased.
#pragma once

#include <gpgme.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "crypto/crypto.hpp"

namespace cased::pgp {

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
Data data_over(std::string_view bytes);
// An output buffer without a limit: for what we produce (signatures,
// exports), never for what a sender's data expands to.
Data data_out();
std::string read_all(gpgme_data_t d);

// Output that refuses to grow past `limit` bytes: the write that would pass
// it fails, GPGME ends the operation with an error and gpg dies of the
// closed pipe. Holds the bytes in memory, never in a file.
class BoundedSink {
 public:
  explicit BoundedSink(std::uint64_t limit);
  BoundedSink(const BoundedSink&) = delete;
  BoundedSink& operator=(const BoundedSink&) = delete;
  gpgme_data_t get() const { return data_.get(); }
  bool overflowed() const { return overflowed_; }
  std::string take() { return std::move(bytes_); }

 private:
  static ssize_t write(void* self, const void* buffer, size_t size);
  static ssize_t read(void*, void*, size_t);
  std::string bytes_;
  std::uint64_t limit_;
  bool overflowed_ = false;
  gpgme_data_cbs cbs_{};
  Data data_;
};

std::string upper(std::string s);
KeyInfo key_info(gpgme_key_t k);
// A short text for a GPGME error, without any of a message's content.
std::string gpg_error_text(gpgme_error_t err);
// Marks a part and everything inside it encrypted and/or signed.
void mark_subtree(MimePart& p, bool encrypted, bool is_signed);
// Every bare LF as CRLF: signed MIME entities are verified in canonical form.
std::string to_crlf(std::string_view in);
// A context on `home`: OpenPGP (or `protocol`), armored, no pinentry, offline.
Ctx make_context(const std::string& home, gpgme_protocol_t protocol = GPGME_PROTOCOL_OpenPGP);

// One GPGME operation on a context of its own, driven by our own event loop
// (gpgme_set_io_cbs) so that it can be abandoned: GPGME's blocking calls have
// no time limit and only look at cancellation when gpg writes something, so a
// gpg waiting on a hung gpg-agent would hold a worker thread for ever.
class TimedOp {
 public:
  explicit TimedOp(const std::string& home, gpgme_protocol_t protocol = GPGME_PROTOCOL_OpenPGP)
      : ctx_(make_context(home, protocol)) {
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
  gpgme_error_t run(Start&& start, std::chrono::milliseconds limit) {
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
        throw CryptoTimeout(fmt::format("gpg did not finish within {} s (is gpg-agent hung?); cancelled",
                                        std::chrono::ceil<std::chrono::seconds>(limit).count()));
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
    // With our own event loop a listed key comes here, not to GPGME's key
    // queue, and is ours to release (agent probes list keys this way).
    if (type == GPGME_EVENT_NEXT_KEY && type_data) gpgme_key_unref(static_cast<gpgme_key_t>(type_data));
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

struct SignatureOutcome {
  SignatureState status = SignatureState::none;  // good, bad, unknown_key or none (never partial)
  std::optional<std::string> signer;
  std::string signer_uid;
  std::vector<std::string> addresses;  // of the signer's user ids, normalised
};

}  // namespace cased::pgp

namespace cased {

struct Crypto::Impl {
  Impl(std::string h, std::chrono::seconds t, std::uint64_t max) : home(std::move(h)), timeout(t), max_plaintext(max) {}
  std::string home;
  std::chrono::seconds timeout;
  std::uint64_t max_plaintext;
  pgp::Ctx ctx;  // key listings and lookups; operations that reach gpg-agent use op_ctx
  std::unique_ptr<pgp::TimedOp> op_ctx;
  std::vector<std::string> own_fingerprints;  // keys we hold a secret for
  // Signing (sub)key -> the signer as reported. gpgme_get_key runs gpg twice
  // (about 20 ms, more than a small decrypt); reporters sign many messages
  // with one key. Cleared whenever keys are imported.
  std::unordered_map<std::string, pgp::SignatureOutcome> signer_cache;
  static constexpr std::size_t kSignerCacheMax = 1024;

  // The first signature of a verify result, with its signer's primary key.
  pgp::SignatureOutcome signatures(gpgme_verify_result_t vr);

  // The operation context, ready for one operation (signing as `signer`).
  pgp::TimedOp& timed_op(gpgme_key_t signer = nullptr) {
    if (!op_ctx || op_ctx->spoiled()) op_ctx = std::make_unique<pgp::TimedOp>(home);
    op_ctx->prepare(signer);
    return *op_ctx;
  }

  // Runs a signing operation; a timeout is gpg-agent not answering
  // (Errc::unavailable, temporary): the outbox tries again later.
  template <class Start>
  Result<gpgme_error_t> run_signing(pgp::TimedOp& op, Start&& start) {
    try {
      return op.run(std::forward<Start>(start), timeout);
    } catch (const CryptoTimeout& e) {
      return Error{Errc::unavailable, e.what()};
    }
  }

  // The gpg time one message may take in all (process() sets it), so that
  // many slow parts cannot add up to more than the caller waits.
  std::optional<std::chrono::steady_clock::time_point> content_deadline;
  bool content_timed_out = false;  // this message has made gpg time out once: no more gpg for it

  // Runs an operation on a sender's data. Past the time limit, gpg-agent is
  // asked whether it answers: if it does, the data made gpg slow and the
  // result is GPG_ERR_TIMEOUT (a failure of this message); if not, the
  // environment is at fault and CryptoTimeout goes up (retry later).
  template <class Start>
  gpgme_error_t run_on_content(pgp::TimedOp& op, Start&& start) {
    std::chrono::milliseconds limit = timeout;
    if (content_deadline)
      limit = std::min(limit, std::chrono::duration_cast<std::chrono::milliseconds>(*content_deadline -
                                                                                    std::chrono::steady_clock::now()));
    if (content_timed_out || limit.count() <= 0) return gpg_error(GPG_ERR_TIMEOUT);
    try {
      return op.run(std::forward<Start>(start), limit);
    } catch (const CryptoTimeout&) {
      if (!agent_answers()) throw;
      content_timed_out = true;
      return gpg_error(GPG_ERR_TIMEOUT);
    }
  }
  // Asks gpg-agent for our secret keys, giving it half the time limit
  // (1 to 5 s): the operation's result, or CryptoTimeout when it did not answer.
  gpgme_error_t probe_agent();
  // Whether gpg-agent answers a request for our secret keys within that time.
  bool agent_answers();

  Result<pgp::Key> secret_key(const std::string& fpr);

  // S/MIME (smime.cpp): gpgsm's contexts, made on first use, and the CRLs
  // smime::setup gathered in `home`.
  pgp::Ctx cms;
  std::unique_ptr<pgp::TimedOp> cms_op;
  std::optional<std::string> crls;
  gpgme_ctx_t cms_ctx();
  pgp::TimedOp& timed_cms(gpgme_key_t signer = nullptr) {
    if (!cms_op || cms_op->spoiled()) cms_op = std::make_unique<pgp::TimedOp>(home, GPGME_PROTOCOL_CMS);
    cms_op->prepare(signer);
    gpgme_set_armor(cms_op->get(), 0);
    return *cms_op;
  }

  bool is_own(const std::string& fpr) const {
    return std::find(own_fingerprints.begin(), own_fingerprints.end(), fpr) != own_fingerprints.end();
  }
};

}  // namespace cased
