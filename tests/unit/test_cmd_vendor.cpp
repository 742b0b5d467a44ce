// casectl vendor's row (cli/cmd_vendor.cpp): which actions write, and how
// the optional fields parse (given, given as "none", or absent).
#include <algorithm>
#include <catch2/catch.hpp>
#include <stdexcept>

#include "cli/commands.hpp"

using namespace cased::cli;

namespace {

Args parse_vendor(std::vector<std::string> argv) {
  const Command* row = nullptr;
  for (const auto& c : commands())
    if (c.name == "vendor") row = &c;
  REQUIRE(row);
  CLI::App app;
  Args a;
  row->options(*app.add_subcommand("vendor"), a);
  argv.insert(argv.begin(), "vendor");
  std::reverse(argv.begin(), argv.end());
  app.parse(argv);
  return a;
}

Access access(const std::vector<std::string>& argv) {
  for (const auto& c : commands())
    if (c.name == "vendor") return c.access(parse_vendor(argv));
  throw std::logic_error("no vendor row");
}

}  // namespace

TEST_CASE("vendor list and show read; the other actions write", "[cli]") {
  CHECK(access({}) == Access::read);
  CHECK(access({"list"}) == Access::read);
  CHECK(access({"show", "acme"}) == Access::read);
  for (auto act : {"add", "edit", "remove", "import-securitytxt"}) CHECK(access({act, "acme"}) == Access::write);
}

TEST_CASE("vendor's fields are set only when given", "[cli]") {
  Args a = parse_vendor({"add", "acme", "--contact", "a@acme.example", "--contact", "b@acme.example", "--key",
                         "acme.asc", "--note", "none"});
  CHECK(a.action == "add");
  CHECK(a.vendor.name == "acme");
  CHECK(a.vendor.contacts_given);
  CHECK(a.vendor.contacts == std::vector<std::string>{"a@acme.example", "b@acme.example"});
  CHECK(a.vendor.key == "acme.asc");
  CHECK(a.vendor.note == "none");
  CHECK_FALSE(a.vendor.url);
  CHECK_FALSE(a.vendor.phone);
  CHECK_FALSE(a.vendor.postal);
  CHECK_FALSE(a.vendor.securitytxt);
  Args b = parse_vendor({"import-securitytxt", "acme", "security.txt"});
  CHECK(b.vendor.source == "security.txt");
  CHECK_FALSE(b.vendor.contacts_given);
  // An empty value is given (and clears, as "none" does).
  Args c = parse_vendor({"edit", "acme", "--url", ""});
  CHECK(c.vendor.url == "");
}
