// S/MIME set-up in gpg.home (smime::setup) and the X.509 work GnuTLS does
// for it: fingerprints for the trust list, the PKCS#12 bundle gpgsm imports
// a key from, and CRL checks. Nothing here reads a message.
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>
#include <gpgme.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "core/util.hpp"
#include "crypto/pgp_gpgme.hpp"
#include "crypto/smime.hpp"

extern char** environ;

namespace cased::smime {
namespace {

template <class T, void (*F)(T)>
struct Free {
  void operator()(T p) const { F(p); }
};
using Crt = std::unique_ptr<gnutls_x509_crt_int, Free<gnutls_x509_crt_t, gnutls_x509_crt_deinit>>;
using Crl = std::unique_ptr<gnutls_x509_crl_int, Free<gnutls_x509_crl_t, gnutls_x509_crl_deinit>>;
using Pkey = std::unique_ptr<gnutls_x509_privkey_int, Free<gnutls_x509_privkey_t, gnutls_x509_privkey_deinit>>;
using P12 = std::unique_ptr<gnutls_pkcs12_int, Free<gnutls_pkcs12_t, gnutls_pkcs12_deinit>>;
using Bag = std::unique_ptr<gnutls_pkcs12_bag_int, Free<gnutls_pkcs12_bag_t, gnutls_pkcs12_bag_deinit>>;

gnutls_datum_t datum(std::string_view s) {
  return {reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())), static_cast<unsigned>(s.size())};
}

Result<std::string> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{Errc::invalid, fmt::format("{}: {}", path, std::strerror(errno))};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every certificate in a PEM (or DER) file.
std::vector<Crt> certificates_in(std::string_view bytes) {
  std::vector<Crt> out;
  gnutls_x509_crt_t* list = nullptr;
  unsigned n = 0;
  gnutls_datum_t d = datum(bytes);
  auto format = bytes.find("-----BEGIN") != std::string_view::npos ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER;
  if (gnutls_x509_crt_list_import2(&list, &n, &d, format, 0) < 0) return out;
  for (unsigned i = 0; i < n; ++i) out.emplace_back(list[i]);
  gnutls_free(list);
  return out;
}

// "AA:BB:..." as gpg-agent's trust list writes a fingerprint.
std::string trustlist_fingerprint(gnutls_x509_crt_t crt) {
  unsigned char buf[20];
  size_t size = sizeof buf;
  if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA1, buf, &size) < 0) return {};
  std::string out;
  for (size_t i = 0; i < size; ++i) out += fmt::format("{}{:02X}", i ? ":" : "", buf[i]);
  return out;
}

std::string export_der(gnutls_x509_crt_t crt) {
  gnutls_datum_t out{nullptr, 0};
  if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &out) < 0) return {};
  std::string der(reinterpret_cast<char*>(out.data), out.size);
  gnutls_free(out.data);
  return der;
}

gpgme_error_t empty_passphrase(void*, const char*, const char*, int, int fd) {
  return gpgme_io_writen(fd, "\n", 1) == 0 ? 0 : gpgme_error_from_errno(errno);
}

Status import_into(gpgme_ctx_t ctx, std::string_view bytes, std::string_view what) {
  pgp::Data in = pgp::data_over(bytes);
  gpgme_set_passphrase_cb(ctx, empty_passphrase, nullptr);
  gpgme_error_t err = gpgme_op_import(ctx, in.get());
  gpgme_set_passphrase_cb(ctx, nullptr, nullptr);
  if (err != 0) return Error{Errc::invalid, fmt::format("gpgsm could not import {}: {}", what, gpgme_strerror(err))};
  gpgme_import_result_t r = gpgme_op_import_result(ctx);
  if (r && r->considered > 0 && r->imported + r->unchanged + r->secret_imported + r->secret_unchanged == 0)
    return Error{Errc::invalid, fmt::format("gpgsm imported nothing of {}", what)};
  return ok_status();
}

// Writes `text` to `path` whole (a temporary file renamed over it).
Status write_file(const std::string& path, std::string_view text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return Error{Errc::temporary, fmt::format("cannot write {}", tmp)};
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Error{Errc::temporary, fmt::format("cannot write {}: {}", path, std::strerror(errno))};
  return ok_status();
}

// Has a running gpg-agent of `home` read its trust list again.
void reload_agent(const std::string& home) {
  std::vector<std::string> args = {"gpgconf", "--homedir", home, "--reload", "gpg-agent"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawnp(&pid, "gpgconf", nullptr, nullptr, argv.data(), environ) != 0) {
    spdlog::warn("smime: cannot run gpgconf to reload gpg-agent; a running agent keeps its old trust list");
    return;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// Imports a PKCS#12 bundle with an empty passphrase. gpgsm asks for the
// passphrase through gpg-agent, which GPGME's server-mode gpgsm cannot
// answer (ENOTTY): `gpgsm --import` runs as a child with the bundle on
// stdin and an empty passphrase on fd 3, both pipes (nothing on disk).
Status gpgsm_import_key(const std::string& home, std::string_view p12) {
  int data[2], pass[2];
  if (::pipe2(data, O_CLOEXEC) != 0) return Error{Errc::temporary, "pipe failed"};
  if (::pipe2(pass, O_CLOEXEC) != 0) {
    ::close(data[0]);
    ::close(data[1]);
    return Error{Errc::temporary, "pipe failed"};
  }
  std::vector<std::string> args = {"gpgsm", "--homedir", home, "--batch", "--disable-dirmngr", "--pinentry-mode",
                                   "loopback", "--passphrase-fd", "3", "--import"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, data[0], 0);
  posix_spawn_file_actions_adddup2(&actions, pass[0], 3);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, "gpgsm", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(data[0]);
  ::close(pass[0]);
  auto old_pipe = std::signal(SIGPIPE, SIG_IGN);  // a gpgsm that quits early is EPIPE here, not our death
  bool written = rc == 0 && ::write(pass[1], "\n", 1) == 1;
  ::close(pass[1]);
  for (std::size_t off = 0; written && off < p12.size();) {
    ssize_t n = ::write(data[1], p12.data() + off, p12.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) written = false;
    else off += static_cast<std::size_t>(n);
  }
  ::close(data[1]);
  std::signal(SIGPIPE, old_pipe);
  if (rc != 0) return Error{Errc::invalid, fmt::format("cannot run gpgsm: {}", std::strerror(rc))};
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!written || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Error{Errc::invalid, "gpgsm could not import the alias's certificate and key (smime.certificate, smime.key)"};
  return ok_status();
}

// The alias's certificate and key, imported once (gpgsm keeps them).
Status import_alias(gpgme_ctx_t ctx, const std::string& home, const SmimeConfig& config) {
  struct stat st{};
  if (::stat(config.key.c_str(), &st) != 0)
    return Error{Errc::invalid, fmt::format("smime.key: {}: {}", config.key, std::strerror(errno))};
  if ((st.st_mode & 077) != 0)
    return Error{Errc::invalid, fmt::format("smime.key: {}: mode {:o}; others may read the key: make it 0600",
                                            config.key, st.st_mode & 0777)};
  auto cert = read_whole(config.certificate);
  if (!cert) return Error{Errc::invalid, "smime.certificate: " + cert.error().message};
  auto key = read_whole(config.key);
  if (!key) return Error{Errc::invalid, "smime.key: " + key.error().message};
  auto certs = certificates_in(*cert);
  if (certs.empty()) return Error{Errc::invalid, fmt::format("smime.certificate: {}: no certificate", config.certificate)};
  std::string fpr = trustlist_fingerprint(certs.front().get());
  std::erase(fpr, ':');
  gpgme_key_t have = nullptr;
  if (gpgme_get_key(ctx, fpr.c_str(), &have, 1) == 0 && have) {
    gpgme_key_unref(have);
    return ok_status();
  }
  // gpgsm 2.2.40's PKCS#12 reader now and then refuses a bundle of the same
  // certificate and key that it takes on the next try (only the random
  // salt and IV differ; seen at daemon start in the S/MIME test, and for
  // openssl-made bundles about 1 in 30): each try is a new bundle.
  Status imported = Error{Errc::invalid, "not tried"};
  for (int attempt = 0; attempt < 6 && !imported; ++attempt) {
    auto p12 = pkcs12_of(*cert, *key);
    if (!p12) return p12.error();
    imported = gpgsm_import_key(home, *p12);
  }
  return imported;
}

}  // namespace

Result<std::string> pkcs12_of(std::string_view cert_pem, std::string_view key_pem) {
  auto certs = certificates_in(cert_pem);
  if (certs.empty()) return Error{Errc::invalid, "no certificate"};
  gnutls_x509_privkey_t k = nullptr;
  gnutls_x509_privkey_init(&k);
  Pkey key(k);
  gnutls_datum_t kd = datum(key_pem);
  if (gnutls_x509_privkey_import2(k, &kd, GNUTLS_X509_FMT_PEM, nullptr, GNUTLS_PKCS_PLAIN) < 0)
    return Error{Errc::invalid, "not an unencrypted PEM private key"};
  gnutls_pkcs12_bag_t b = nullptr;
  gnutls_pkcs12_bag_init(&b);
  Bag certbag(b);
  gnutls_pkcs12_bag_init(&b);
  Bag keybag(b);
  gnutls_pkcs12_t p = nullptr;
  gnutls_pkcs12_init(&p);
  P12 p12(p);
  const unsigned flags = GNUTLS_PKCS_PKCS12_3DES;
  if (gnutls_pkcs12_bag_set_crt(certbag.get(), certs.front().get()) < 0 ||
      gnutls_pkcs12_bag_encrypt(certbag.get(), "", flags) < 0 ||
      gnutls_pkcs12_bag_set_privkey(keybag.get(), k, "", flags) < 0 ||
      gnutls_pkcs12_set_bag(p, certbag.get()) < 0 || gnutls_pkcs12_set_bag(p, keybag.get()) < 0 ||
      gnutls_pkcs12_generate_mac2(p, GNUTLS_MAC_SHA1, "") < 0)
    return Error{Errc::invalid, "cannot bundle the certificate and key for gpgsm"};
  gnutls_datum_t out{nullptr, 0};
  if (gnutls_pkcs12_export2(p, GNUTLS_X509_FMT_DER, &out) < 0) return Error{Errc::invalid, "cannot export PKCS#12"};
  std::string der(reinterpret_cast<char*>(out.data), out.size);
  gnutls_free(out.data);
  return der;
}

std::string revocation(std::string_view cert_der, std::string_view issuer_der, std::string_view crl_pem) {
  if (crl_pem.empty()) return "not checked";
  auto cert = certificates_in(cert_der);
  auto issuer = certificates_in(issuer_der);
  if (cert.empty() || issuer.empty()) return "unavailable";
  gnutls_x509_crl_t* list = nullptr;
  unsigned n = 0;
  gnutls_datum_t d = datum(crl_pem);
  if (gnutls_x509_crl_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0) < 0) return "unavailable";
  std::vector<Crl> crls;
  for (unsigned i = 0; i < n; ++i) crls.emplace_back(list[i]);
  gnutls_free(list);
  std::vector<gnutls_x509_crl_t> current;
  const std::time_t now = std::time(nullptr);
  for (auto& crl : crls) {
    unsigned verify = 0;
    gnutls_x509_crt_t ca = issuer.front().get();
    if (!gnutls_x509_crl_check_issuer(crl.get(), ca)) continue;
    if (gnutls_x509_crl_verify(crl.get(), &ca, 1, 0, &verify) < 0 || verify != 0) continue;
    std::time_t next = gnutls_x509_crl_get_next_update(crl.get());
    if (next != static_cast<std::time_t>(-1) && next < now) continue;  // stale
    current.push_back(crl.get());
  }
  if (current.empty()) return "unavailable";
  int r = gnutls_x509_crt_check_revocation(cert.front().get(), current.data(), static_cast<unsigned>(current.size()));
  return r == 1 ? "revoked" : r == 0 ? "checked" : "unavailable";
}

Status setup(const SmimeConfig& config, const std::string& home) {
  gpgme_check_version(nullptr);  // before any other GPGME call of the process
  if (gpgme_engine_check_version(GPGME_PROTOCOL_CMS) != 0) return Error{Errc::invalid, "gpgsm is not available"};
  pgp::Ctx ctx;
  try {
    ctx = pgp::make_context(home, GPGME_PROTOCOL_CMS);
  } catch (const std::exception& e) {
    return Error{Errc::invalid, e.what()};
  }
  gpgme_set_armor(ctx.get(), 0);
  std::string trust =
      "# Written by cased from [smime] ca_files (and the system store) at every start; edits here are lost.\n";
  auto anchors = [&](const std::string& path, std::string_view what) -> Status {
    auto bytes = read_whole(path);
    if (!bytes) return Error{Errc::invalid, fmt::format("{}: {}", what, bytes.error().message)};
    auto certs = certificates_in(*bytes);
    if (certs.empty()) return Error{Errc::invalid, fmt::format("{}: {}: no certificate", what, path)};
    for (auto& c : certs) {
      if (auto s = import_into(ctx.get(), export_der(c.get()), path); !s) {
        spdlog::warn("smime: {}", s.error().message);  // one odd root of a bundle does not stop the rest
        continue;
      }
      trust += trustlist_fingerprint(c.get()) + " S\n";
    }
    return ok_status();
  };
  for (const auto& f : config.ca_files)
    if (auto s = anchors(f, "smime.ca_files"); !s) return s;
  if (config.system_store && ::access(std::string(kSystemStore).c_str(), R_OK) == 0)
    if (auto s = anchors(std::string(kSystemStore), "smime.system_store"); !s) return s;
  if (!config.certificate.empty())
    if (auto s = import_alias(ctx.get(), home, config); !s) return s;
  std::string crls;
  for (const auto& f : config.crl_files) {
    auto bytes = read_whole(f);
    if (!bytes) return Error{Errc::invalid, "smime.crl_files: " + bytes.error().message};
    gnutls_x509_crl_t* list = nullptr;
    unsigned n = 0;
    gnutls_datum_t d = datum(*bytes);
    auto format = bytes->find("-----BEGIN") != std::string::npos ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER;
    if (gnutls_x509_crl_list_import2(&list, &n, &d, format, 0) < 0 || n == 0)
      return Error{Errc::invalid, fmt::format("smime.crl_files: {}: no CRL", f)};
    for (unsigned i = 0; i < n; ++i) {
      Crl crl(list[i]);
      gnutls_datum_t pem{nullptr, 0};
      if (gnutls_x509_crl_export2(crl.get(), GNUTLS_X509_FMT_PEM, &pem) >= 0) {
        crls.append(reinterpret_cast<char*>(pem.data), pem.size);
        gnutls_free(pem.data);
      }
    }
    gnutls_free(list);
  }
  if (auto s = write_file(home + "/" + std::string(kCrlFile), crls); !s) return s;
  if (auto s = write_file(home + "/" + std::string(kTrustlist), trust); !s) return s;
  reload_agent(home);
  spdlog::info("smime: {} trust anchor(s), {} CRL file(s){}", std::count(trust.begin(), trust.end(), '\n') - 1,
               config.crl_files.size(), config.certificate.empty() ? "" : ", the alias certificate");
  return ok_status();
}

}  // namespace cased::smime
