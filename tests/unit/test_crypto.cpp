// The PGP layer with real gpg: an INSECURE throwaway alias key made at test
// time in a temp GNUPGHOME (no passphrase, never committed), plus the
// armour and packet framing it checks before gpg runs.
#include <catch2/catch.hpp>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "crypto/crypto.hpp"
#include "mail/mime.hpp"
#include "crypto/pgp_packets.hpp"

using namespace cased;

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A GNUPGHOME with the alias's secret key (ed25519 + cv25519).
struct AliasHome {
  std::filesystem::path dir;
  AliasHome() {
    char tmpl[] = "/tmp/cased-unit-gpg-XXXXXX";
    dir = mkdtemp(tmpl);
    gpg("--quick-gen-key security@example.com future-default default never");
  }
  ~AliasHome() {
    std::string kill = "gpgconf --homedir " + dir.string() + " --kill all >/dev/null 2>&1";
    (void)std::system(kill.c_str());
    std::filesystem::remove_all(dir);
  }
  void gpg(const std::string& args) const {
    std::string cmd = "gpg --homedir " + dir.string() +
                      " --batch --yes --quiet --pinentry-mode loopback --passphrase '' --trust-model always " + args +
                      " >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
  // `plain` encrypted to the alias, armoured, with extra gpg options.
  std::string encrypt(std::string_view plain, const std::string& options = "") const {
    write_file(dir / "in", plain);
    gpg("--armor --encrypt --recipient security@example.com " + options + " --output " + (dir / "out").string() + " " +
        (dir / "in").string());
    return read_file(dir / "out");
  }
  std::string clearsign(std::string_view text) const {
    write_file(dir / "in", text);
    gpg("--clearsign --output " + (dir / "out").string() + " " + (dir / "in").string());
    return read_file(dir / "out");
  }
};

std::string pgp_mime(const std::string& armored, const std::string& from = "rita@example.org") {
  return "From: " + from +
         "\r\nTo: security@example.com\r\nSubject: ...\r\nMessage-ID: <u@example.org>\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n"
         "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
         "--b\r\nContent-Type: application/octet-stream\r\n\r\n" +
         armored + "\r\n--b--\r\n";
}

std::string packet(unsigned tag, std::size_t length) {  // new-format header, body of zeros
  std::string p(1, static_cast<char>(0xC0 | tag));
  p += static_cast<char>(192 + ((length - 192) >> 8));
  p += static_cast<char>((length - 192) & 0xff);
  return p + std::string(length, '\0');
}

}  // namespace

TEST_CASE("armour blocks are found at the start of a line, with the text around them", "[crypto]") {
  std::string body = "hello\n-----BEGIN PGP MESSAGE-----\n\nhQ==\n-----END PGP MESSAGE-----\nbye\n";
  auto split = pgp::split_armor(body, "MESSAGE", "MESSAGE");
  REQUIRE(split);
  CHECK(split->before == "hello\n");
  CHECK(split->after == "bye\n");
  CHECK_FALSE(split->alone());
  CHECK(pgp::split_armor("  \r\n-----BEGIN PGP MESSAGE-----\r\nx\r\n-----END PGP MESSAGE-----\r\n\r\n", "MESSAGE", "MESSAGE")->alone());
  CHECK_FALSE(pgp::split_armor("> -----BEGIN PGP MESSAGE-----\n> x\n> -----END PGP MESSAGE-----\n", "MESSAGE", "MESSAGE"));
}

TEST_CASE("session key packets are counted before gpg, in binary and armour", "[crypto]") {
  std::string three = packet(1, 300) + packet(3, 200) + packet(1, 300) + packet(18, 400);
  auto lead = pgp::count_leading_packets(three, 64);
  CHECK(lead.count == 3);
  CHECK_FALSE(lead.too_many);
  CHECK_FALSE(lead.malformed);

  std::string flood;
  for (int i = 0; i < 30000; ++i) flood += packet(1, 200);
  flood += packet(18, 400);
  lead = pgp::count_leading_packets(flood, 64);
  CHECK(lead.too_many);
  CHECK(lead.count == 65);

  CHECK(pgp::count_leading_packets(packet(1, 300).substr(0, 100), 64).malformed);  // truncated
  CHECK(pgp::count_leading_packets("not openpgp", 64).malformed);
}

TEST_CASE("a compression bomb stops at the plaintext limit and the message is stored as failed", "[crypto][gpg]") {
  AliasHome home;
  std::string inner = "Content-Type: application/octet-stream\r\n\r\n" + std::string(20u << 20, '\0');
  std::string armored = home.encrypt(inner, "--compress-algo bzip2 -z 9");
  REQUIRE(armored.size() < 8192);
  {
    Crypto crypto(home.dir.string(), std::chrono::seconds(60), 1u << 20);
    ParsedMessage msg = parse_message(pgp_mime(armored));
    crypto.process(msg);
    CHECK(msg.decryption == DecryptionState::failed);
    CHECK(msg.decryption_error.find("larger than 1048576 bytes") != std::string::npos);
    for (const auto& a : msg.attachments) CHECK(a.size < (1u << 20));
  }
  Crypto roomy(home.dir.string(), std::chrono::seconds(60), 32u << 20);
  ParsedMessage msg = parse_message(pgp_mime(armored));
  roomy.process(msg);
  CHECK(msg.decryption == DecryptionState::ok);
}

TEST_CASE("ciphertext inside someone else's multipart is kept, not decrypted", "[crypto][gpg]") {
  AliasHome home;
  std::string armored = home.encrypt(
      "Content-Type: text/plain; protected-headers=\"v1\"\r\nSubject: victim subject\r\n\r\nvictim words\r\n");
  std::string whole = pgp_mime(armored);
  std::string entity = whole.substr(whole.find("Content-Type: multipart/encrypted"));
  std::string wrapped =
      "From: mallory@example.net\r\nSubject: outer\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"w\"\r\n\r\n"
      "--w\r\nContent-Type: text/plain\r\n\r\nlook\r\n--w\r\n" + entity + "\r\n--w--\r\n";
  Crypto crypto(home.dir.string());
  ParsedMessage msg = parse_message(wrapped);
  crypto.process(msg);
  CHECK(msg.decryption == DecryptionState::none);
  CHECK(msg.decryption_error == "ciphertext not at the root; not decrypted");
  CHECK(msg.subject == "outer");
  CHECK(msg.body.find("victim") == std::string::npos);

  ParsedMessage own = parse_message(whole);
  crypto.process(own);
  CHECK(own.decryption == DecryptionState::ok);
  CHECK(own.subject == "victim subject");
}

TEST_CASE("a clearsigned block under an unsigned line is partial, and the signer is compared with From",
          "[crypto][gpg]") {
  AliasHome home;
  std::string clear = home.clearsign("signed words\n");
  Crypto crypto(home.dir.string());
  std::string head = "From: security@example.com\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\n";
  ParsedMessage partial = parse_message(head + "unsigned words\r\n\r\n" + clear);
  crypto.process(partial);
  CHECK(partial.signature == SignatureState::partial);
  CHECK(partial.body.find("[UNSIGNED part]\nunsigned words") != std::string::npos);
  CHECK(partial.body.find("[signed part]\nsigned words") != std::string::npos);
  CHECK(partial.problems.empty());

  ParsedMessage whole = parse_message(head + clear);
  crypto.process(whole);
  CHECK(whole.signature == SignatureState::good);

  ParsedMessage other = parse_message("From: mallory@example.net\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\n" + clear);
  crypto.process(other);
  CHECK(other.signature == SignatureState::good);
  CHECK(other.problems == std::vector<std::string>{std::string(kSignerNotFrom)});
}
