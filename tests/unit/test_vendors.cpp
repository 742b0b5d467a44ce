// The vendor contact book in the store (store/vendors.cpp): add, edit,
// remove, the log, and the pins a vendor's key gets.
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "../store_access.hpp"
#include "store/store.hpp"

using namespace cased;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/cased-vendors-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

Store open(const TempDir& dir) {
  auto s = Store::open(dir.file("cases.db"), StoreOptions{});
  REQUIRE(s.ok());
  return std::move(s.value());
}

Vendor acme() {
  Vendor v;
  v.name = "acme";
  v.contacts = {"psirt@acme.example", "security@acme.example"};
  v.key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  v.url = "https://acme.example/security";
  return v;
}

}  // namespace

TEST_CASE("a vendor is added, read back whole, listed by name and logged", "[vendors]") {
  TempDir dir;
  Store s = open(dir);
  REQUIRE(s.save_vendor(acme(), VendorWrite::add, "first", "ana").ok());
  Vendor b;
  b.name = "beta";
  b.contacts = {"sec@beta.example"};
  VendorSecurityTxt st;
  st.imported = 100;
  st.expires = 2000;
  st.signed_ = true;
  st.signature = "good";
  st.signer = "BBBB";
  b.securitytxt = st;
  REQUIRE(s.save_vendor(b, VendorWrite::add, "second", "ana").ok());

  auto got = s.get_vendor("acme");
  REQUIRE(got.ok());
  CHECK(got->contacts == acme().contacts);
  CHECK(got->key == acme().key);
  CHECK(got->url == acme().url);
  CHECK_FALSE(got->phone);
  CHECK_FALSE(got->securitytxt);
  CHECK(got->created > 0);

  auto list = s.list_vendors();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].name == "acme");
  CHECK((*list)[0].contacts.size() == 2);
  CHECK((*list)[1].name == "beta");
  CHECK((*list)[1].contacts == std::vector<std::string>{"sec@beta.example"});
  REQUIRE((*list)[1].securitytxt);
  CHECK(*(*list)[1].securitytxt == st);

  auto log = s.vendor_log("acme");
  REQUIRE(log.ok());
  REQUIRE(log->size() == 1);
  CHECK((*log)[0].action == "add");
  CHECK((*log)[0].actor == "ana");
  CHECK((*log)[0].detail == "first");
}

TEST_CASE("add refuses a name in the book, edit and remove one that is not", "[vendors]") {
  TempDir dir;
  Store s = open(dir);
  REQUIRE(s.save_vendor(acme(), VendorWrite::add, "", "ana").ok());
  auto again = s.save_vendor(acme(), VendorWrite::add, "", "ana");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::invalid);
  Vendor ghost;
  ghost.name = "ghost";
  auto edit = s.save_vendor(ghost, VendorWrite::edit, "", "ana");
  REQUIRE_FALSE(edit.ok());
  CHECK(edit.error().code == Errc::not_found);
  CHECK(edit.error().message.find("ghost") != std::string::npos);
  CHECK(s.remove_vendor("ghost", "ana").error().code == Errc::not_found);
  CHECK(s.get_vendor("ghost").error().code == Errc::not_found);
  CHECK(s.list_vendors()->size() == 1);
  CHECK(s.vendor_log("ghost")->empty());
}

TEST_CASE("edit replaces the contacts; remove drops them and keeps the log and pins", "[vendors]") {
  TempDir dir;
  Store s = open(dir);
  REQUIRE(s.save_vendor(acme(), VendorWrite::add, "", "ana").ok());
  CHECK(s.pinned_key("psirt@acme.example")->value_or("") == acme().key);
  CHECK(s.pinned_key("security@acme.example")->value_or("") == acme().key);
  Vendor v = *s.get_vendor("acme");
  v.contacts = {"new@acme.example"};
  v.key = std::nullopt;
  v.note = "call first";
  REQUIRE(s.save_vendor(v, VendorWrite::edit, "changed", "bob").ok());
  auto got = *s.get_vendor("acme");
  CHECK(got.contacts == std::vector<std::string>{"new@acme.example"});
  CHECK_FALSE(got.key);
  CHECK(got.note == "call first");
  CHECK_FALSE(s.pinned_key("new@acme.example")->has_value());
  auto& db = StoreTestAccess::db(s);
  auto count = [&](const char* sql) {
    auto st = db.prepare(sql);
    REQUIRE(st.step());
    return st.int64(0);
  };
  CHECK(count("SELECT count(*) FROM vendor_contacts") == 1);
  REQUIRE(s.remove_vendor("acme", "bob").ok());
  CHECK(count("SELECT count(*) FROM vendor_contacts") == 0);
  CHECK(count("SELECT count(*) FROM vendors") == 0);
  auto log = *s.vendor_log("acme");
  REQUIRE(log.size() == 3);
  CHECK(log[1].action == "edit");
  CHECK(log[2].action == "remove");
  CHECK(log[2].detail.find("new@acme.example") != std::string::npos);
  // The pins belong to the addresses, not to the vendor.
  CHECK(s.pinned_key("psirt@acme.example")->value_or("") == acme().key);
}

TEST_CASE("a vendor's key replaces another key pinned to its contact", "[vendors]") {
  TempDir dir;
  Store s = open(dir);
  REQUIRE(s.pin_key("psirt@acme.example", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", "ana").ok());
  REQUIRE(s.save_vendor(acme(), VendorWrite::add, "", "ana").ok());
  CHECK(s.pinned_key("psirt@acme.example")->value_or("") == acme().key);
}
