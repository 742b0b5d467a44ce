// Keys and signed text an analyst brings (the vendor book): what a key file
// holds, looked at without importing it, a cleartext-signed text verified,
// and keys just imported taken back.
#include <gpgme.h>

#include <algorithm>

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

void Crypto::remove_public_keys(const std::vector<std::string>& fingerprints) {
  const auto& own = own_fingerprints();
  for (const auto& fpr : fingerprints) {
    if (std::find(own.begin(), own.end(), fpr) != own.end()) continue;
    gpgme_key_t k = nullptr;
    if (gpgme_get_key(impl_->ctx.get(), fpr.c_str(), &k, 0) != 0 || !k) continue;
    pgp::Key owner(k);
    if (k->secret) continue;
    gpgme_op_delete_ext(impl_->ctx.get(), k, GPGME_DELETE_FORCE);
  }
}

}  // namespace cased
