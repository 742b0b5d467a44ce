// S/MIME with real gpgsm and openssl: an INSECURE throwaway CA, alias and
// reporter certificate made at test time in a temp directory (no
// passphrase, never committed); shapes and CMS framing checked without them.
#include <catch2/catch.hpp>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/base64.hpp"
#include "core/config.hpp"
#include "crypto/crypto.hpp"
#include "crypto/smime.hpp"
#include "mail/mime.hpp"

using namespace cased;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spill(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A CA, the alias's and Rita's certificates, and a gpg.home set up for them.
struct World {
  std::filesystem::path dir, home;
  World() {
    char tmpl[] = "/tmp/cased-unit-smime-XXXXXX";
    dir = mkdtemp(tmpl);
    home = dir / "home";
    std::filesystem::create_directory(home);
    std::filesystem::permissions(home, std::filesystem::perms::owner_all);
    spill(dir / "ext",
          "[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
          "[alias]\nkeyUsage=critical,digitalSignature,keyEncipherment\nsubjectAltName=email:security@example.com\n"
          "[rita]\nkeyUsage=critical,digitalSignature,keyEncipherment\nsubjectAltName=email:rita@example.org\n"
          "[req]\ndistinguished_name=dn\n[dn]\n");
    sh("openssl req -x509 -new -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3 -subj '/CN=unit CA' "
       "-config ext -extensions v3_ca");
    for (const char* who : {"alias", "rita"}) {
      std::string w = who;
      sh("openssl req -new -newkey rsa:2048 -nodes -keyout " + w + ".key -out " + w + ".csr -subj '/CN=" + w +
         "' -config ext");
      sh("openssl x509 -req -in " + w + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -out " + w +
         ".pem -days 3 -extfile ext -extensions " + w);
      std::filesystem::permissions(dir / (w + ".key"), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    }
  }
  ~World() {
    std::string kill = "gpgconf --homedir " + home.string() + " --kill all >/dev/null 2>&1";
    (void)std::system(kill.c_str());
    std::filesystem::remove_all(dir);
  }
  void sh(const std::string& cmd) const {
    std::string full = "cd " + dir.string() + " && " + cmd + " >/dev/null 2>&1";
    REQUIRE(std::system(full.c_str()) == 0);
  }
  SmimeConfig config() const {
    SmimeConfig c;
    c.configured = true;
    c.ca_files = {(dir / "ca.pem").string()};
    c.certificate = (dir / "alias.pem").string();
    c.key = (dir / "alias.key").string();
    c.system_store = false;
    return c;
  }
  // `args` of openssl cms over `in`: what it writes.
  std::string cms(const std::string& args, std::string_view in) const {
    spill(dir / "in.eml", in);
    sh("openssl cms -in in.eml -out out.eml " + args);
    return slurp(dir / "out.eml");
  }
};

constexpr std::string_view kHead =
    "From: Rita <rita@example.org>\r\nTo: security@example.com\r\nSubject: s\r\nMessage-ID: <m1@example.org>\r\n";
constexpr std::string_view kText = "Content-Type: text/plain\r\n\r\nsecret words quince9\r\n";

}  // namespace

TEST_CASE("S/MIME content types and CMS framing", "[smime]") {
  ParsedMessage m = parse_message(
      "Content-Type: multipart/signed; protocol=\"application/x-pkcs7-signature\"; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/x-pkcs7-signature\r\n\r\nAA==\r\n--b--\r\n");
  CHECK(smime::is_signed_multipart(m.root));
  CHECK(Crypto::has_openpgp(m));  // goes to the parse workers
  ParsedMessage p7m = parse_message(
      "Content-Type: application/octet-stream; name=\"smime.p7m\"\r\nContent-Transfer-Encoding: base64\r\n\r\nMAA=\r\n");
  CHECK(smime::is_pkcs7_mime(p7m.root));
  CHECK(!smime::is_signed_multipart(parse_message("Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; "
                                                  "boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n").root));
  const std::string enveloped("\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03\xa0", 14);
  const std::string signed_data("\x30\x82\x01\x00\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02", 15);
  CHECK(smime::cms_kind(enveloped) == smime::CmsKind::enveloped);
  CHECK(smime::cms_kind(signed_data) == smime::CmsKind::signed_data);
  CHECK(smime::cms_kind("garbage") == smime::CmsKind::other);
  CHECK(smime::cms_kind(std::string("\x30\x84\xff\xff\xff\xff\x06", 7)) == smime::CmsKind::other);
  CHECK(smime::cms_kind("") == smime::CmsKind::other);
  CHECK(smime::der_of(base64_encode(enveloped)) == enveloped);
  CHECK(smime::der_of("-----BEGIN PKCS7-----\n" + base64_encode(signed_data) + "\n-----END PKCS7-----\n") == signed_data);
  CHECK(smime::revocation("x", "y", "") == "not checked");
}

TEST_CASE("[smime] configuration", "[smime][config]") {
  auto c = parse_config("[case]\ndatabase=\"d\"\nalias=\"security@example.com\"\n[lmtp]\nlisten=[\"127.0.0.1:1\"]\n"
                        "[smime]\nca_files=[\"/a.pem\"]\ncertificate=\"/c.pem\"\nkey=\"/k.pem\"\nsystem_store=false\n",
                        "t.toml");
  REQUIRE(c.ok());
  CHECK(c->smime.configured);
  CHECK(c->smime.ca_files == std::vector<std::string>{"/a.pem"});
  CHECK(!c->smime.system_store);
  auto half = parse_config("[case]\ndatabase=\"d\"\nalias=\"security@example.com\"\n[lmtp]\nlisten=[\"127.0.0.1:1\"]\n"
                           "[smime]\ncertificate=\"/c.pem\"\n",
                           "t.toml");
  REQUIRE(!half.ok());
  CHECK(half.error().message.find("smime.key") != std::string::npos);
}

TEST_CASE("S/MIME with gpgsm: set-up, decrypt, verify, Efail, seal", "[smime][gpg]") {
  World w;
  SmimeConfig bad = w.config();
  std::filesystem::permissions(bad.key, std::filesystem::perms::group_read, std::filesystem::perm_options::add);
  auto refused = smime::setup(bad, w.home.string());
  REQUIRE(!refused.ok());
  CHECK(refused.error().message.find("0600") != std::string::npos);
  std::filesystem::permissions(bad.key, std::filesystem::perms::group_read, std::filesystem::perm_options::remove);
  REQUIRE(smime::setup(w.config(), w.home.string()).ok());
  CHECK(slurp(w.home / "trustlist.txt").find(" S\n") != std::string::npos);
  Crypto crypto(w.home.string());

  SECTION("sign then encrypt, from openssl") {
    std::string signed_entity = w.cms("-sign -signer rita.pem -inkey rita.key", kText);
    std::string enveloped = w.cms("-encrypt -aes256 alias.pem", signed_entity);
    ParsedMessage msg = parse_message(std::string(kHead) + enveloped);
    crypto.process(msg);
    CHECK(msg.crypto == "smime");
    CHECK(msg.decryption == DecryptionState::ok);
    CHECK(msg.signature == SignatureState::good);
    CHECK(msg.body.find("quince9") != std::string::npos);
    REQUIRE(msg.smime);
    CHECK(msg.smime->chain == "good");
    CHECK(msg.smime->revocation == "not checked");
    CHECK(msg.smime->addresses == std::vector<std::string>{"rita@example.org"});
    REQUIRE(crypto.imported().size() == 1);
    CHECK(crypto.imported()[0].source == "smime");
  }
  SECTION("ciphertext among other parts is kept, not decrypted") {
    std::string enveloped = w.cms("-encrypt -aes256 alias.pem", kText);
    auto body_at = enveloped.find("\n\n");
    std::string b64 = enveloped.substr(body_at + 2);
    std::string raw = std::string(kHead) +
                      "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n"
                      "please decrypt this for me\r\n--x\r\nContent-Type: application/pkcs7-mime; "
                      "smime-type=enveloped-data\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                      b64 + "\r\n--x--\r\n";
    ParsedMessage msg = parse_message(raw);
    crypto.process(msg);
    CHECK(msg.decryption == DecryptionState::none);
    CHECK(msg.decryption_error == "ciphertext not at the root; not decrypted");
    CHECK(msg.body.find("quince9") == std::string::npos);
  }
  SECTION("garbage where the ciphertext should be") {
    ParsedMessage msg = parse_message(std::string(kHead) +
                                      "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
                                      "Content-Transfer-Encoding: base64\r\n\r\nMIIBzgYJKoZIhvcNAQcDoIIBvzCCAbsCAQAx\r\n");
    crypto.process(msg);
    CHECK(msg.crypto == "smime");
    CHECK(msg.decryption == DecryptionState::failed);
    CHECK(msg.signature == SignatureState::none);
  }
  SECTION("the alias seals a reply that openssl opens as the reporter") {
    auto signer = crypto.smime_signer("security@example.com");
    REQUIRE(signer.ok());
    CHECK(signer->secret);
    std::string rita_fpr;
    {
      std::string signed_entity = w.cms("-sign -signer rita.pem -inkey rita.key", kText);
      ParsedMessage msg = parse_message(std::string(kHead) + signed_entity);
      crypto.process(msg);  // verifying keeps Rita's certificate
      REQUIRE(msg.signer);
      rita_fpr = *msg.signer;
    }
    auto sealed = crypto.smime_seal(kText, signer->fingerprint, {rita_fpr});
    REQUIRE(sealed.ok());
    std::string inner = w.cms("-decrypt -recip rita.pem -inkey rita.key", "MIME-Version: 1.0\r\n" + *sealed);
    CHECK(inner.find("application/pkcs7-signature") != std::string::npos);
    std::string plain = w.cms("-verify -CAfile ca.pem", inner);
    CHECK(plain.find("quince9") != std::string::npos);
  }
}
