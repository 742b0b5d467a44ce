// casectl export's CSV: RFC 4180 quoting, whole fields, and no formula a
// spreadsheet would run from a sender's subject or address.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "cli/output.hpp"

using namespace cased;

TEST_CASE("export csv: a header, RFC 4180 quoting, lists joined, nothing cut", "[cli][export]") {
  CaseSummary plain;
  plain.id = 7;
  plain.subject = "heap overflow in parser";
  plain.status = "open";
  plain.created = 0;
  plain.updated = 60;
  plain.messages = 2;
  plain.participants = {"a@example.org", "b@example.org"};
  plain.cves = {"CVE-2026-1234"};
  CaseSummary odd;
  odd.id = 8;
  odd.subject = "a, \"quoted\"\r\nsecond line";
  odd.assignee = "alice";
  odd.embargo = "2027-01-15";
  odd.status = "resolved";
  odd.resolution = "wont-fix";
  odd.tags = {"needs-info", "web"};
  const std::string csv = cli::render_csv({plain, odd});
  CHECK(csv ==
        "id,subject,status,assignee,created,updated,messages,participants,embargo,cves,resolution,tags\r\n"
        "7,heap overflow in parser,open,,1970-01-01T00:00:00Z,1970-01-01T00:01:00Z,2,a@example.org b@example.org,,"
        "CVE-2026-1234,,\r\n"
        "8,\"a, \"\"quoted\"\"\r\nsecond line\",resolved,alice,1970-01-01T00:00:00Z,1970-01-01T00:00:00Z,0,,"
        "2027-01-15,,wont-fix,needs-info web\r\n");
}

TEST_CASE("export csv: a cell a spreadsheet would run as a formula is made text", "[cli][export]") {
  for (std::string subject : {"=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx"}) {
    CaseSummary c;
    c.id = 1;
    c.subject = subject;
    c.status = "new";
    const std::string csv = cli::render_csv({c});
    const std::string row = csv.substr(csv.find("\r\n") + 2);
    INFO(subject);
    // The cell is quoted when the formula holds a quote; either way it starts with '.
    CHECK((row.rfind("1,'", 0) == 0 || row.rfind("1,\"'", 0) == 0));
  }
  CaseSummary fine;
  fine.id = 2;
  fine.subject = "no formula = here";
  fine.status = "new";
  CHECK(cli::render_csv({fine}).find("2,no formula = here,") != std::string::npos);
}
