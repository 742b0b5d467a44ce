// Incoming S/MIME (Crypto::process_smime), under the rules PGP mail follows:
// - Only what the sender made the message of is decrypted or verified: the
//   root, or its only body part, and the layers inside it (sign then
//   encrypt, Outlook's opaque signed-data). Enveloped-data is decrypted only
//   at the root: under a signature it may be a captured report. An S/MIME
//   object anywhere else (an attachment, a part among others, a forwarded
//   message) may be someone else's, captured and sent back: it is kept as
//   it is and noted, never decrypted.
// - What gpgsm writes is bounded by the message size limit.
// - A signature is "good" only when its certificate chains to a configured
//   anchor and is neither expired nor revoked: an untrusted chain is
//   "unknown-key", an expired or revoked certificate "bad", and the chain and
//   revocation state are reported as they are ("not checked" when no CRL
//   was given), never as good by silence.
#include <gpgme.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/util.hpp"
#include "crypto/crypto.hpp"
#include "crypto/pgp_gpgme.hpp"
#include "crypto/smime.hpp"
#include "mail/address.hpp"
#include "mail/mime.hpp"

namespace cased {

using pgp::mark_subtree;
using pgp::to_crlf;

namespace {

constexpr std::string_view kNotAtRoot = "ciphertext not at the root; not decrypted";
constexpr std::string_view kSignedPart = "S/MIME signature over one part only; not verified";
constexpr int kMaxLayers = 4;  // sign, encrypt, sign, encrypt: more is not mail anyone writes

// The entity the sender made the message of: the root, or the only part of
// a multipart with one part, down from it.
MimePart& sole_entity(MimePart& root) {
  MimePart* at = &root;
  while (at->type == "multipart" && at->subtype != "signed" && at->children.size() == 1) at = &at->children.front();
  return *at;
}

bool is_smime_root(const MimePart& p) { return smime::is_pkcs7_mime(p) || smime::is_signed_multipart(p); }

std::string cms_error_text(gpgme_error_t err) {
  switch (gpgme_err_code(err)) {
    case GPG_ERR_NO_SECKEY: return "no secret key for this message";
    case GPG_ERR_BAD_DATA:
    case GPG_ERR_INV_DATA:
    case GPG_ERR_NO_DATA:
    case GPG_ERR_INV_OBJ:
    case GPG_ERR_INV_BER:
    case GPG_ERR_EOF: return "corrupt or not S/MIME data";
    case GPG_ERR_UNSUPPORTED_ALGORITHM:
    case GPG_ERR_UNSUPPORTED_CMS_OBJ:
    case GPG_ERR_UNSUPPORTED_CMS_VERSION: return "unsupported S/MIME algorithm or object";
    case GPG_ERR_TIMEOUT: return "gpgsm did not finish in time on this message; given up";
    default: return std::string("S/MIME: ") + gpgme_strerror(err);
  }
}

// Where an S/MIME object sits below the sender's own entity: ciphertext is
// left as it is (noted); a signed part among others is replaced by its
// content, unverified, so that nothing reads its signature as PGP's.
void neutralise(MimePart& p, ParsedMessage& msg) {
  if (p.type == "message") {
    if (smime::looks_like_smime(p) && msg.decryption_error.empty()) msg.decryption_error = kNotAtRoot;
    return;
  }
  if (smime::is_pkcs7_mime(p)) {
    if (msg.decryption_error.empty()) msg.decryption_error = kNotAtRoot;
    return;
  }
  if (smime::is_signed_multipart(p) && !p.children.empty()) {
    MimePart content = std::move(p.children.front());
    p = std::move(content);
    if (std::find(msg.problems.begin(), msg.problems.end(), kSignedPart) == msg.problems.end())
      msg.problems.emplace_back(kSignedPart);
  }
  for (auto& c : p.children) neutralise(c, msg);
}

}  // namespace

class Crypto::SmimeIncoming {
 public:
  SmimeIncoming(Crypto& crypto, ParsedMessage& msg) : crypto_(crypto), impl_(*crypto.impl_), msg_(msg) {}

  void run(MimePart& top) {
    MimePart* at = &top;
    for (int layer = 0; layer < kMaxLayers && at && is_smime_root(*at); ++layer) {
      if (smime::is_signed_multipart(*at)) {
        detached(*at);
      } else {
        std::string der = smime::der_of(at->body);
        switch (smime::cms_kind(der)) {
          case smime::CmsKind::enveloped:
            // Only the sender's own entity is decrypted: ciphertext under a
            // signature may be someone else's report, signed over by
            // whoever captured it to have it read out (and "signed" by them).
            if (layer > 0) {
              if (msg_.decryption_error.empty()) msg_.decryption_error = kNotAtRoot;
              return;
            }
            if (!decrypt(*at, der)) return;
            break;
          case smime::CmsKind::signed_data:
            if (!opaque(*at, der)) return;
            break;
          case smime::CmsKind::auth_enveloped:
            return failed("AuthEnvelopedData (AES-GCM) S/MIME is not supported; not decrypted");
          case smime::CmsKind::other:
            return failed("corrupt or not S/MIME data");
        }
      }
      at = &sole_entity(*at);
    }
    neutralise(*at, msg_);
  }

  void failed(std::string_view why) {
    decrypt_failed_ = true;
    if (msg_.decryption_error.empty()) msg_.decryption_error = why;
  }

  void finish() {
    msg_.crypto = "smime";
    msg_.decryption = decrypt_failed_ ? DecryptionState::failed
                     : decrypt_ok_    ? DecryptionState::ok
                                      : DecryptionState::none;
    msg_.signature = first_.status == SignatureState::good && other_signer_ ? SignatureState::partial : first_.status;
    if (first_.signer) {
      msg_.smime = first_.signer;
      msg_.signer = first_.signer->fingerprint;
      msg_.signer_uid = first_.signer->subject;
      const auto& names = first_.signer->addresses;
      std::string from = normalize_address(msg_.from);
      if (from.empty() || std::find(names.begin(), names.end(), from) == names.end())
        msg_.problems.emplace_back(kSignerNotFrom);
    }
    extract_content(msg_);
  }

 private:
  struct Outcome {
    SignatureState status = SignatureState::none;
    std::optional<SmimeSigner> signer;
  };

  bool decrypt(MimePart& p, const std::string& der) {
    pgp::Data in = pgp::data_over(der);
    pgp::BoundedSink out(impl_.max_plaintext);
    pgp::TimedOp& op = impl_.timed_cms();
    gpgme_error_t err =
        impl_.run_on_content(op, [&](gpgme_ctx_t oc) { return gpgme_op_decrypt_start(oc, in.get(), out.get()); });
    if (out.overflowed()) {
      impl_.cms_op.reset();
      failed(fmt::format("decrypted content is larger than {} bytes; decryption stopped", impl_.max_plaintext));
      return false;
    }
    if (gpgme_err_code(err) == GPG_ERR_NO_AGENT) throw CryptoTimeout("gpg-agent could not be reached");
    if (err != 0) {
      impl_.cms_op.reset();  // gpgsm's server session is not used again after an error (IPC errors follow)
      failed(cms_error_text(err));
      return false;
    }
    decrypt_ok_ = true;
    MimePart inner = parse_entity(out.take());
    mark_subtree(inner, true, p.is_signed);
    p = std::move(inner);
    return true;
  }

  // Signed-data with the content inside (Outlook's "opaque" signing).
  bool opaque(MimePart& p, const std::string& der) {
    pgp::Data sig = pgp::data_over(der);
    pgp::BoundedSink out(impl_.max_plaintext);
    pgp::TimedOp& op = impl_.timed_cms();
    gpgme_error_t err =
        impl_.run_on_content(op, [&](gpgme_ctx_t oc) { return gpgme_op_verify_start(oc, sig.get(), nullptr, out.get()); });
    if (gpgme_err_code(err) == GPG_ERR_NO_AGENT) throw CryptoTimeout("gpg-agent could not be reached");
    if (err != 0 || out.overflowed()) {
      impl_.cms_op.reset();
      note({SignatureState::bad, std::nullopt});
      msg_.problems.push_back("S/MIME signed data could not be read: " +
                              (out.overflowed() ? std::string("content too large") : cms_error_text(err)));
      return false;
    }
    Outcome o = outcome(gpgme_op_verify_result(op.get()));
    note(o);
    MimePart inner = parse_entity(out.take());
    mark_subtree(inner, p.encrypted, o.status == SignatureState::good);
    p = std::move(inner);
    return true;
  }

  // multipart/signed: the first part, as it is in the message, is signed.
  void detached(MimePart& p) {
    Outcome o{SignatureState::bad, std::nullopt};
    if (p.children.size() >= 2) {
      std::string text = to_crlf(p.children[0].raw());
      std::string der = smime::der_of(p.children[1].body);
      pgp::Data sig = pgp::data_over(der);
      pgp::Data signed_text = pgp::data_over(text);
      pgp::TimedOp& op = impl_.timed_cms();
      gpgme_error_t err = impl_.run_on_content(
          op, [&](gpgme_ctx_t oc) { return gpgme_op_verify_start(oc, sig.get(), signed_text.get(), nullptr); });
      if (gpgme_err_code(err) == GPG_ERR_NO_AGENT) throw CryptoTimeout("gpg-agent could not be reached");
      if (err == 0) {
        o = outcome(gpgme_op_verify_result(op.get()));
      } else {
        impl_.cms_op.reset();
        msg_.problems.push_back("S/MIME signature could not be read: " + cms_error_text(err));
      }
    }
    note(o);
    if (p.children.empty()) return;
    MimePart content = std::move(p.children[0]);
    mark_subtree(content, p.encrypted, o.status == SignatureState::good);
    p = std::move(content);
  }

  void note(const Outcome& o) {
    if (first_.status == SignatureState::none) {
      if (o.status != SignatureState::none) first_ = o;
    } else if (o.status == SignatureState::good && first_.status == SignatureState::good && o.signer &&
               first_.signer && o.signer->fingerprint != first_.signer->fingerprint) {
      other_signer_ = true;
    }
  }

  Outcome outcome(gpgme_verify_result_t vr);
  std::string revocation(gpgme_key_t k);
  std::string export_der(const char* fpr);

  Crypto& crypto_;
  Impl& impl_;
  ParsedMessage& msg_;
  bool decrypt_ok_ = false, decrypt_failed_ = false, other_signer_ = false;
  Outcome first_;
};

std::string Crypto::SmimeIncoming::export_der(const char* fpr) {
  pgp::Data out = pgp::data_out();
  if (!fpr || gpgme_op_export(impl_.cms_ctx(), fpr, 0, out.get()) != 0) return {};
  return pgp::read_all(out.get());
}

std::string Crypto::SmimeIncoming::revocation(gpgme_key_t k) {
  if (!impl_.crls) {
    std::ifstream in(impl_.home + "/" + std::string(smime::kCrlFile), std::ios::binary);
    std::ostringstream s;
    if (in) s << in.rdbuf();
    impl_.crls = s.str();
  }
  if (impl_.crls->empty()) return "not checked";
  return smime::revocation(export_der(k->fpr), export_der(k->chain_id), *impl_.crls);
}

Crypto::SmimeIncoming::Outcome Crypto::SmimeIncoming::outcome(gpgme_verify_result_t vr) {
  Outcome o;
  if (!vr || !vr->signatures) return o;
  gpgme_signature_t s = vr->signatures;
  auto code = gpgme_err_code(s->status), why = gpgme_err_code(s->validity_reason);
  gpgme_key_t k = nullptr;
  std::optional<CertInfo> found;
  if (code != GPG_ERR_NO_PUBKEY && s->fpr) found = crypto_.find_certificate(s->fpr);
  if (!found || gpgme_get_key(impl_.cms_ctx(), s->fpr, &k, 0) != 0 || !k) {
    o.status = code == GPG_ERR_BAD_SIGNATURE ? SignatureState::bad : SignatureState::unknown_key;
    return o;
  }
  pgp::Key owner(k);
  const CertInfo& info = *found;
  SmimeSigner c{info.fingerprint, info.subject, info.issuer, info.addresses, "", "", ""};
  if (code == GPG_ERR_BAD_SIGNATURE) {
    c.chain = "bad";
    c.reason = "the signature does not match the content";
  } else if ((s->summary & GPGME_SIGSUM_KEY_REVOKED) || code == GPG_ERR_CERT_REVOKED || why == GPG_ERR_CERT_REVOKED) {
    c.chain = "revoked";
  } else if ((s->summary & GPGME_SIGSUM_KEY_EXPIRED) || code == GPG_ERR_CERT_EXPIRED || code == GPG_ERR_KEY_EXPIRED ||
             why == GPG_ERR_CERT_EXPIRED) {
    c.chain = "expired";
  } else if (code == GPG_ERR_NO_ERROR && (s->summary & GPGME_SIGSUM_VALID)) {
    c.chain = "good";
  } else if (code == GPG_ERR_NO_ERROR || code == GPG_ERR_NOT_TRUSTED || code == GPG_ERR_BAD_CA_CERT ||
             code == GPG_ERR_MISSING_ISSUER_CERT || code == GPG_ERR_MISSING_CERT) {
    c.chain = "untrusted";
    c.reason = gpgme_strerror(s->validity_reason ? s->validity_reason : s->status);
  } else {
    c.chain = "bad";
    c.reason = gpgme_strerror(s->status);
  }
  c.revocation = c.chain == "revoked" ? "revoked" : revocation(k);
  if (c.revocation == "revoked") c.chain = "revoked";
  o.status = c.chain == "good" ? SignatureState::good
             : c.chain == "untrusted" ? SignatureState::unknown_key
                                      : SignatureState::bad;
  if (o.status == SignatureState::good && crypto_.import_offered_ && !info.addresses.empty())
    crypto_.imported_.push_back(
        {KeyInfo{info.fingerprint, info.addresses, info.subject, info.expires, info.can_encrypt, false}, "smime", false});
  o.signer = std::move(c);
  return o;
}

bool Crypto::process_smime(ParsedMessage& msg) {
  MimePart& top = sole_entity(msg.root);
  if (!is_smime_root(top)) {
    if (smime::looks_like_smime(msg.root)) neutralise(msg.root, msg);
    return false;
  }
  SmimeIncoming incoming(*this, msg);
  try {
    incoming.run(top);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const CryptoTimeout&) {
    throw;
  } catch (const std::exception& e) {
    incoming.failed(e.what());
  }
  incoming.finish();
  return true;
}

}  // namespace cased
