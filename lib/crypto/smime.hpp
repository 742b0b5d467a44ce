// S/MIME (X.509, CMS) through GPGME's CMS engine, gpgsm, in gpg.home: the
// set-up cased does itself (trust anchors, the alias's certificate and
// key), the shapes of S/MIME mail, and what a certificate says.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "mail/message.hpp"

namespace cased {

// A certificate in gpgsm's keybox.
struct CertInfo {
  std::string fingerprint;              // SHA-1, upper-case hex
  std::string subject;                  // distinguished name
  std::string issuer;
  std::vector<std::string> addresses;   // subject email and subjectAltName rfc822Name, normalised
  std::optional<std::int64_t> expires;  // Unix time
  bool can_encrypt = false;             // not expired, revoked or invalid, and usable for encryption
  bool secret = false;                  // we hold its key

  bool operator==(const CertInfo&) const = default;
};

namespace smime {

// The trust anchors gpg-agent reads for gpgsm. cased writes this file from
// the configuration at every start; edits by hand are overwritten.
inline constexpr std::string_view kTrustlist = "trustlist.txt";
// The certificate revocation lists of [smime] crl_files, gathered as PEM.
inline constexpr std::string_view kCrlFile = "cased-crls.pem";
// The system's trust store, used as anchors with [smime] system_store.
inline constexpr std::string_view kSystemStore = "/etc/ssl/certs/ca-certificates.crt";

// Readies gpg.home for S/MIME: imports the CA certificates (ca_files and,
// with system_store, the system store) and the alias's certificate and key
// into gpgsm, marks the CA certificates trusted (trustlist.txt, written
// whole), gathers the CRLs, and has a running gpg-agent read the new list.
// Refuses a key file that others may read (mode beyond 0600).
Status setup(const SmimeConfig& config, const std::string& home);

// Content types of S/MIME: application/(x-)pkcs7-mime (or a .p7m file), and
// multipart/signed with an application/(x-)pkcs7-signature part.
bool is_pkcs7_mime(const MimePart& p);
bool is_signed_multipart(const MimePart& p);
// Whether any part of the tree is S/MIME.
bool looks_like_smime(const MimePart& p);

// What a CMS object (DER) is, from its ContentInfo type.
enum class CmsKind { enveloped, signed_data, auth_enveloped, other };
CmsKind cms_kind(std::string_view der);

// The DER of base64 or PEM text, or the bytes themselves when already DER.
std::string der_of(std::string_view body);

// A certificate's revocation against the CRLs in `crl_pem` (PEM, each CRL
// checked against its issuer `issuer_der`): "revoked", "checked" (a current
// CRL of that issuer signed by it does not list it), "unavailable" (CRLs
// are configured, none current for this issuer) or "not checked".
std::string revocation(std::string_view cert_der, std::string_view issuer_der, std::string_view crl_pem);

// A PKCS#12 bundle (3DES, SHA-1 MAC, empty password: what gpgsm reads) of a
// PEM certificate and unencrypted PEM key.
Result<std::string> pkcs12_of(std::string_view cert_pem, std::string_view key_pem);

}  // namespace smime
}  // namespace cased
