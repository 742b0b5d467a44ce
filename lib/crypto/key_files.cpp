// Keys and signed text an analyst brings (the vendor book): what a key file
// holds, looked at without importing it, and a cleartext-signed text verified.
#include <gpgme.h>

#include "crypto/crypto.hpp"
#include "crypto/pgp_gpgme.hpp"

namespace cased {

std::vector<KeyInfo> Crypto::keys_in(std::string_view data) {
  std::vector<KeyInfo> out;
  gpgme_ctx_t c = impl_->ctx.get();
  pgp::Data in = pgp::data_over(data);
  if (gpgme_op_keylist_from_data_start(c, in.get(), 0) != 0) return out;
  gpgme_key_t k = nullptr;
  while (gpgme_op_keylist_next(c, &k) == 0) {
    pgp::Key owner(k);
    KeyInfo info = pgp::key_info(k);
    // A transferable secret key lists as "sec"; its subkeys may say so too.
    for (gpgme_subkey_t s = k->subkeys; s; s = s->next)
      if (s->secret) info.secret = true;
    out.push_back(std::move(info));
  }
  gpgme_op_keylist_end(c);
  return out;
}

Result<ClearsignedCheck> Crypto::verify_clearsigned(std::string_view text) {
  pgp::Data sig = pgp::data_over(text);
  pgp::BoundedSink out(impl_->max_plaintext);
  pgp::TimedOp& op = impl_->timed_op();
  gpgme_error_t err = 0;
  try {
    err = impl_->run_on_content(op, [&](gpgme_ctx_t oc) { return gpgme_op_verify_start(oc, sig.get(), nullptr, out.get()); });
  } catch (const CryptoTimeout& e) {
    return Error{Errc::unavailable, e.what()};
  }
  ClearsignedCheck check;
  if (err != 0 || out.overflowed()) {
    check.status = SignatureState::bad;
    check.problem = pgp::gpg_error_text(err);
    return check;
  }
  pgp::SignatureOutcome outcome = impl_->signatures(gpgme_op_verify_result(op.get()));
  check.status = outcome.status == SignatureState::none ? SignatureState::bad : outcome.status;
  check.signer = outcome.signer;
  if (gpgme_verify_result_t vr = gpgme_op_verify_result(op.get()); vr && vr->signatures && vr->signatures->fpr)
    check.signing_key = pgp::upper(vr->signatures->fpr);
  return check;
}

}  // namespace cased
