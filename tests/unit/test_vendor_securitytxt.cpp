// Reading a vendor's security.txt (cvd/vendor_securitytxt.cpp): fields,
// Expires, the cleartext-signature frame, and what is refused.
#include <catch2/catch.hpp>

#include "core/util.hpp"
#include "cvd/vendor_securitytxt.hpp"

using namespace cased;

namespace {

std::int64_t at(const char* rfc3339) {
  std::int64_t t = 0;
  REQUIRE(parse_rfc3339(rfc3339, t));
  return t;
}

}  // namespace

TEST_CASE("vendor names are short lower-case words", "[securitytxt]") {
  for (auto ok : {"acme", "a", "acme-corp", "acme.io", "x_1", "0day"}) CHECK(valid_vendor_name(ok));
  for (auto bad : {"", "Acme", "-acme", ".acme", "ac me", "acme/../x", "acme\n", "ácme"}) CHECK_FALSE(valid_vendor_name(bad));
  CHECK(valid_vendor_name(std::string(64, 'a')));
  CHECK_FALSE(valid_vendor_name(std::string(65, 'a')));
}

TEST_CASE("Expires takes RFC 3339 date-times with fractions and offsets", "[securitytxt]") {
  CHECK(parse_securitytxt_expires("2027-01-31T12:00:00Z") == at("2027-01-31T12:00:00Z"));
  CHECK(parse_securitytxt_expires("2027-01-31T12:00:00.000Z") == at("2027-01-31T12:00:00Z"));
  CHECK(parse_securitytxt_expires("2027-01-31T12:00:00+02:00") == at("2027-01-31T10:00:00Z"));
  CHECK(parse_securitytxt_expires("2027-01-31T12:00:00-08:30") == at("2027-01-31T20:30:00Z"));
  for (auto bad : {"2027-01-31", "2027-01-31T12:00:00", "2027-02-30T12:00:00Z", "2027-01-31T25:00:00Z",
                   "2027-01-31T12:00:00+2:00", "tomorrow", "2027-01-31T12:00:00.Z", "2027-01-31 12:00:00Z"})
    CHECK_FALSE(parse_securitytxt_expires(bad));
}

TEST_CASE("openpgp4fpr: values give a fingerprint", "[securitytxt]") {
  std::string fpr(40, 'a');
  CHECK(openpgp4fpr("openpgp4fpr:" + fpr) == std::string(40, 'A'));
  CHECK(openpgp4fpr("OPENPGP4FPR:" + fpr) == std::string(40, 'A'));
  CHECK_FALSE(openpgp4fpr("openpgp4fpr:1234"));
  CHECK_FALSE(openpgp4fpr("https://acme.example/key.asc"));
  CHECK_FALSE(openpgp4fpr("openpgp4fpr:" + std::string(39, 'a') + "g"));
}

TEST_CASE("a plain security.txt gives its contacts by kind and its Expires", "[securitytxt]") {
  auto f = parse_vendor_securitytxt(
      "# our policy\r\n"
      "Contact: mailto:PSIRT@Acme.example\r\n"
      "Contact: https://acme.example/report\r\n"
      "Contact: tel:+1-201-555-0123\r\n"
      "Contact: mailto:sec@acme.example?subject=vuln\r\n"
      "Contact: xmpp:sec@acme.example\r\n"
      "Encryption: openpgp4fpr:" + std::string(40, 'B') + "\r\n"
      "Expires: 2027-01-31T12:00:00.000Z\r\n"
      "Policy: https://acme.example/policy\r\n"
      "\r\n");
  REQUIRE(f.ok());
  CHECK(f->mail == std::vector<std::string>{"PSIRT@Acme.example", "sec@acme.example"});
  CHECK(f->web == std::vector<std::string>{"https://acme.example/report"});
  CHECK(f->phone == std::vector<std::string>{"+1-201-555-0123"});
  CHECK(f->encryption.size() == 1);
  CHECK(f->expires == at("2027-01-31T12:00:00Z"));
  CHECK_FALSE(f->clearsigned);
  REQUIRE(f->warnings.size() == 1);
  CHECK(f->warnings[0].find("xmpp") != std::string::npos);
}

TEST_CASE("a cleartext-signed security.txt is read inside its frame", "[securitytxt]") {
  std::string text =
      "-----BEGIN PGP SIGNED MESSAGE-----\n"
      "Hash: SHA512\n"
      "\n"
      "Contact: mailto:psirt@acme.example\n"
      "- Acknowledgments: https://acme.example/thanks\n"
      "Expires: 2027-01-31T12:00:00Z\n"
      "-----BEGIN PGP SIGNATURE-----\n"
      "\n"
      "iHUEARYKAB0WIQ==\n"
      "-----END PGP SIGNATURE-----\n";
  auto f = parse_vendor_securitytxt(text);
  REQUIRE(f.ok());
  CHECK(f->clearsigned);
  CHECK(f->mail == std::vector<std::string>{"psirt@acme.example"});
  // Text after the signature is not signed: refused.
  auto after = parse_vendor_securitytxt(text + "Contact: mailto:evil@example.org\n");
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().message.find("after the signature") != std::string::npos);
  // No signature block: refused.
  auto cut = parse_vendor_securitytxt(text.substr(0, text.find("-----BEGIN PGP SIGNATURE")));
  REQUIRE_FALSE(cut.ok());
}

TEST_CASE("malformed and oversized security.txt files are refused with the reason", "[securitytxt]") {
  auto why = [](std::string_view text) {
    auto f = parse_vendor_securitytxt(text);
    REQUIRE_FALSE(f.ok());
    return f.error();
  };
  CHECK(why("Expires: 2027-01-31T12:00:00Z\n").message.find("no usable Contact") != std::string::npos);
  CHECK(why("Contact: mailto:a@b.example\nthis is not a field\n").message.find("line 2") != std::string::npos);
  CHECK(why("Contact: mailto:a@b.example\nExpires: soon\n").message.find("Expires") != std::string::npos);
  CHECK(why("Contact: mailto:a@b.example\nExpires: 2027-01-31T12:00:00Z\nExpires: 2027-01-31T12:00:00Z\n")
            .message.find("second Expires") != std::string::npos);
  CHECK(why("Contact: mailto:a@b.example\nContact:\n").message.find("without a value") != std::string::npos);
  CHECK(why("Contact: mailto:a@b.example\xff\n").message.find("UTF-8") != std::string::npos);
  CHECK(why("Contact: mailto:a@b.example\nNote: a\x01 b\n").message.find("control") != std::string::npos);
  auto big = why(std::string(kMaxSecurityTxt + 1, '#'));
  CHECK(big.code == Errc::refused);
  CHECK(big.message.find("larger than 64 KiB") != std::string::npos);
  // Exactly at the limit is read.
  std::string edge = "Contact: mailto:a@b.example\n";
  edge += std::string(kMaxSecurityTxt - edge.size(), '#');
  CHECK(parse_vendor_securitytxt(edge).ok());
  // No Expires is read, with a warning.
  auto no_expires = parse_vendor_securitytxt("Contact: mailto:a@b.example\n");
  REQUIRE(no_expires.ok());
  CHECK_FALSE(no_expires->expires);
  CHECK(no_expires->warnings.size() == 1);
}
