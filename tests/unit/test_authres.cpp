#include <catch2/catch.hpp>

#include "mail/authres.hpp"

using namespace cased;

TEST_CASE("authres: results, comments, quoted strings and versions", "[authres][trust]") {
  auto r = parse_auth_results(
      " mx.example.com 1; dkim=fail (bad sig; really) header.d=a.example; dkim/1 = pass header.d=b.example;"
      " spf=softfail smtp.mailfrom=\"x;y\"@example.org; dmarc=FAIL (p=reject dis=none) header.from=example.org");
  CHECK(r.authserv_id == "mx.example.com");
  CHECK(r.dkim == "pass");
  CHECK(r.spf == "softfail");
  CHECK(r.dmarc == "fail");
  CHECK(r.dmarc_failed());
  auto none = parse_auth_results("mx.example.com; none");
  CHECK(none.authserv_id == "mx.example.com");
  CHECK(none.dkim.empty());
  CHECK_FALSE(none.dmarc_failed());
  // Two verdicts: the failing one counts.
  CHECK(parse_auth_results("mx; dmarc=pass; dmarc=fail").dmarc == "fail");
  // Garbage: no crash, nothing believed; invalid UTF-8 is replaced.
  auto junk = parse_auth_results("((((\"\\;;=;=x;dmarc\xff=pass\xfe");
  CHECK(junk.dmarc.empty());
  CHECK(junk.header.find('\xff') == std::string::npos);
  CHECK(parse_auth_results("").authserv_id.empty());
}

TEST_CASE("authres: only the topmost field, only with the trusted id", "[authres][trust]") {
  std::string ours = "Authentication-Results: mx.example.com;\r\n\tdkim=pass;\r\n spf=pass; dmarc=fail\r\n";
  std::string forged = "Authentication-Results: mx.example.com; dkim=pass; spf=pass; dmarc=pass\r\n";
  std::string rest = "From: a@example.org\r\nSubject: x\r\n\r\nAuthentication-Results: mx.example.com; dmarc=pass\r\n";
  auto top = trusted_auth_results("Received: x\r\n" + ours + forged + rest, "MX.example.com");
  REQUIRE(top);
  CHECK(top->dmarc == "fail");
  CHECK(top->dkim == "pass");
  CHECK(top->header == "mx.example.com; dkim=pass; spf=pass; dmarc=fail");
  // The topmost is another server's: the forged one below is not looked at.
  CHECK_FALSE(trusted_auth_results("Authentication-Results: other; dmarc=fail\r\n" + forged + rest, "mx.example.com"));
  // Nothing trusted when no id is configured; none in the body counts.
  CHECK_FALSE(trusted_auth_results(ours + rest, ""));
  CHECK_FALSE(trusted_auth_results(rest, "mx.example.com"));
  CHECK_FALSE(trusted_auth_results("", "mx.example.com"));
  // LF-only mail.
  auto lf = trusted_auth_results("authentication-results: mx.example.com; dmarc=pass\nFrom: a@b\n\n", "mx.example.com");
  REQUIRE(lf);
  CHECK(lf->dmarc == "pass");
}
