// S/MIME with gpgsm: what S/MIME parts look like, certificates in the
// keybox, and the alias's signed and encrypted mail (Crypto::smime_seal).
#include "crypto/smime.hpp"

#include <gpgme.h>

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/util.hpp"
#include "crypto/crypto.hpp"
#include "crypto/pgp_gpgme.hpp"
#include "mail/address.hpp"

namespace cased {
namespace smime {

namespace {

bool ends_with_p7m(std::string_view name) {
  std::string n = to_lower(name);
  return n.size() > 4 && n.ends_with(".p7m");
}

bool is_pkcs7_signature(const MimePart& p) {
  return p.type == "application" && (p.subtype == "pkcs7-signature" || p.subtype == "x-pkcs7-signature");
}

// Reads one DER length at `pos`; false when it runs past the data.
bool der_length(std::string_view d, std::size_t& pos, std::size_t& len) {
  if (pos >= d.size()) return false;
  auto b = static_cast<unsigned char>(d[pos++]);
  if (b < 0x80) {
    len = b;
    return true;
  }
  unsigned n = b & 0x7f;
  if (n == 0 || n > 4 || pos + n > d.size()) return n == 0;  // indefinite length (BER) is allowed
  len = 0;
  for (unsigned i = 0; i < n; ++i) len = (len << 8) | static_cast<unsigned char>(d[pos++]);
  return true;
}

}  // namespace

bool is_pkcs7_mime(const MimePart& p) {
  if (p.type != "application") return false;
  if (p.subtype == "pkcs7-mime" || p.subtype == "x-pkcs7-mime") return true;
  return p.subtype == "octet-stream" && ends_with_p7m(p.filename);
}

bool is_signed_multipart(const MimePart& p) {
  if (!p.is("multipart", "signed")) return false;
  std::string proto = to_lower(p.param("protocol"));
  if (proto == "application/pkcs7-signature" || proto == "application/x-pkcs7-signature") return true;
  return p.children.size() >= 2 && is_pkcs7_signature(p.children[1]);
}

bool looks_like_smime(const MimePart& p) {
  if (is_pkcs7_mime(p) || is_signed_multipart(p)) return true;
  return std::any_of(p.children.begin(), p.children.end(), looks_like_smime);
}

CmsKind cms_kind(std::string_view der) {
  // ContentInfo ::= SEQUENCE { contentType OBJECT IDENTIFIER, ... }
  static constexpr std::string_view kPkcs7 = "\x2a\x86\x48\x86\xf7\x0d\x01\x07";             // 1.2.840.113549.1.7
  static constexpr std::string_view kAuthEnv = "\x2a\x86\x48\x86\xf7\x0d\x01\x09\x10\x01\x17";  // ...1.9.16.1.23
  std::size_t pos = 0, len = 0;
  if (der.empty() || static_cast<unsigned char>(der[pos++]) != 0x30 || !der_length(der, pos, len)) return CmsKind::other;
  if (pos >= der.size() || der[pos++] != 0x06 || !der_length(der, pos, len) || pos + len > der.size())
    return CmsKind::other;
  std::string_view oid = der.substr(pos, len);
  if (oid == kAuthEnv) return CmsKind::auth_enveloped;
  if (oid.size() == kPkcs7.size() + 1 && oid.starts_with(kPkcs7)) {
    if (oid.back() == '\x03') return CmsKind::enveloped;
    if (oid.back() == '\x02') return CmsKind::signed_data;
  }
  return CmsKind::other;
}

std::string der_of(std::string_view body) {
  if (!body.empty() && static_cast<unsigned char>(body.front()) == 0x30) return std::string(body);
  std::string_view text = body;
  if (auto begin = text.find("-----BEGIN"); begin != std::string_view::npos) {
    auto eol = text.find('\n', begin);
    auto end = text.find("-----END", eol == std::string_view::npos ? begin : eol);
    if (eol == std::string_view::npos || end == std::string_view::npos) return {};
    text = text.substr(eol + 1, end - eol - 1);
  }
  return base64_decode(text).value_or(std::string());
}

}  // namespace smime

namespace {

CertInfo cert_info(gpgme_key_t k) {
  CertInfo info;
  info.fingerprint = k->fpr ? pgp::upper(k->fpr) : "";
  info.issuer = k->issuer_name ? k->issuer_name : "";
  info.secret = k->secret != 0;
  for (gpgme_user_id_t u = k->uids; u; u = u->next) {
    if (u == k->uids && u->uid) info.subject = u->uid;
    if (u->email && *u->email) {
      std::string a = normalize_address(u->email);
      if (!a.empty() && std::find(info.addresses.begin(), info.addresses.end(), a) == info.addresses.end())
        info.addresses.push_back(a);
    }
  }
  if (k->subkeys && k->subkeys->expires > 0) info.expires = k->subkeys->expires;
  info.can_encrypt = k->can_encrypt && !k->revoked && !k->expired && !k->disabled && !k->invalid;
  return info;
}

// Base64 in lines of 76 characters, CRLF.
std::string base64_lines(std::string_view bytes) {
  std::string flat = base64_encode(bytes), out;
  out.reserve(flat.size() + flat.size() / 38 + 2);
  for (std::size_t i = 0; i < flat.size(); i += 76) out += flat.substr(i, 76) + "\r\n";
  return out;
}

// "SHA256" -> "sha-256" (RFC 8551 micalg).
std::string micalg_of(const char* name) {
  std::string n = to_lower(name ? name : "sha256");
  if (n.starts_with("sha") && n.size() > 3 && n[3] != '-') n.insert(3, "-");
  return n;
}

}  // namespace

gpgme_ctx_t Crypto::Impl::cms_ctx() {
  if (!cms) {
    cms = pgp::make_context(home, GPGME_PROTOCOL_CMS);
    gpgme_set_armor(cms.get(), 0);
  }
  return cms.get();
}

std::optional<CertInfo> Crypto::find_certificate(std::string_view fingerprint) {
  gpgme_key_t k = nullptr;
  std::string fpr(fingerprint);
  if (gpgme_get_key(impl_->cms_ctx(), fpr.c_str(), &k, 0) != 0 || !k) return std::nullopt;
  pgp::Key owner(k);
  return cert_info(k);
}

Result<CertInfo> Crypto::smime_signer(const std::string& alias) {
  std::string want = normalize_address(alias);
  gpgme_ctx_t c = impl_->cms_ctx();
  std::optional<CertInfo> found;
  if (gpgme_op_keylist_start(c, nullptr, 1) == 0) {
    gpgme_key_t k = nullptr;
    while (gpgme_op_keylist_next(c, &k) == 0) {
      pgp::Key owner(k);
      CertInfo info = cert_info(k);
      bool names = std::find(info.addresses.begin(), info.addresses.end(), want) != info.addresses.end();
      if (!found && names && k->can_sign && !k->expired && !k->revoked) found = info;
    }
    gpgme_op_keylist_end(c);
  }
  if (!found) return Error{Errc::invalid, "no S/MIME certificate and key for " + alias + " in gpg.home (smime.certificate)"};
  return *found;
}

Result<std::string> Crypto::smime_seal(std::string_view entity, const std::string& signer,
                                       const std::vector<std::string>& recipients) {
  gpgme_key_t sk = nullptr;
  if (gpgme_get_key(impl_->cms_ctx(), signer.c_str(), &sk, 1) != 0 || !sk)
    return Error{Errc::invalid, "no S/MIME key for " + signer};
  pgp::Key signing(sk);
  pgp::Data in = pgp::data_over(entity);
  pgp::Data sig = pgp::data_out();
  pgp::TimedOp& op = impl_->timed_cms(sk);
  auto err = impl_->run_signing(
      op, [&](gpgme_ctx_t oc) { return gpgme_op_sign_start(oc, in.get(), sig.get(), GPGME_SIG_MODE_DETACH); });
  if (!err) return err.error();
  if (*err != 0) return Error{Errc::internal, std::string("S/MIME signing failed: ") + gpgme_strerror(*err)};
  std::string micalg = "sha-256";
  if (gpgme_sign_result_t r = gpgme_op_sign_result(op.get()); r && r->signatures)
    micalg = micalg_of(gpgme_hash_algo_name(r->signatures->hash_algo));
  std::random_device rd;
  std::string b = fmt::format("cased-{:08x}{:08x}{:08x}", rd(), rd(), rd());
  std::string signed_entity = "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=" +
                              micalg + ";\r\n boundary=\"" + b + "\"\r\n\r\nThis is an S/MIME signed message\r\n--" + b +
                              "\r\n" + std::string(entity) + "\r\n--" + b +
                              "\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
                              "Content-Transfer-Encoding: base64\r\n"
                              "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n" +
                              base64_lines(pgp::read_all(sig.get())) + "--" + b + "--\r\n";
  std::vector<pgp::Key> owners;
  std::vector<gpgme_key_t> keys;
  std::vector<std::string> all = recipients;
  all.push_back(signer);  // the team can read its own sent mail
  for (const auto& fpr : all) {
    gpgme_key_t k = nullptr;
    if (gpgme_get_key(impl_->cms_ctx(), fpr.c_str(), &k, 0) != 0 || !k)
      return Error{Errc::refused, "no certificate " + fpr};
    owners.emplace_back(k);
    keys.push_back(k);
  }
  keys.push_back(nullptr);
  pgp::Data plain = pgp::data_over(signed_entity);
  pgp::Data out = pgp::data_out();
  pgp::TimedOp& enc = impl_->timed_cms();
  err = impl_->run_signing(
      enc, [&](gpgme_ctx_t oc) { return gpgme_op_encrypt_start(oc, keys.data(), GPGME_ENCRYPT_ALWAYS_TRUST, plain.get(), out.get()); });
  if (!err) return err.error();
  if (*err != 0) return Error{Errc::refused, std::string("S/MIME encryption failed: ") + gpgme_strerror(*err)};
  return "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\r\n"
         "Content-Transfer-Encoding: base64\r\n"
         "Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n" +
         base64_lines(pgp::read_all(out.get()));
}

}  // namespace cased
