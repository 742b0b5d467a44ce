// The store's side of publishing an advisory: the files are placed inside
// the transaction that records the version, so the two agree.
#include <catch2/catch.hpp>

#include "core/util.hpp"
#include "store/store.hpp"
#include "store_ingest.hpp"
#include "temp_db.hpp"

using namespace cased;

TEST_CASE("store: a publication is recorded only when its files were placed", "[advisory][store]") {
  test::TempDb db;
  auto opened = Store::open(db.path(), StoreOptions{});
  REQUIRE(opened.ok());
  Store& s = opened.value();
  auto id = test::ingest(s, test::plain_report("p1@x")).case_id;
  REQUIRE(s.advisory_init(id, "EX-SA", "ana").ok());

  int calls = 0;
  auto failing = [&] {
    ++calls;
    return Status(Error{Errc::full, "cannot write DIR/2026/x.json: No space left on device"});
  };
  auto failed = s.record_publication(id, {1, 100, "Initial release.", std::nullopt, "/srv"}, "ana", failing);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == Errc::full);
  CHECK(calls == 1);
  auto after = s.get_advisory(id);
  REQUIRE(after.ok());
  CHECK(after->version == 0);
  CHECK_FALSE(after->published);
  CHECK(after->revisions.empty());

  // A version another publisher recorded first is refused before placing.
  auto placing = [&] { return ++calls, ok_status(); };
  REQUIRE(s.record_publication(id, {1, 100, "Initial release.", std::nullopt, "/srv"}, "ana", placing).ok());
  CHECK(calls == 2);
  auto late = s.record_publication(id, {1, 101, "Initial release.", std::nullopt, "/srv"}, "ana", placing);
  REQUIRE_FALSE(late.ok());
  CHECK(calls == 2);
  CHECK(s.get_advisory(id)->version == 1);
}

TEST_CASE("store: tracking ids are numbered across prefixes that differ only in case", "[advisory][store]") {
  test::TempDb db;
  auto opened = Store::open(db.path(), StoreOptions{});
  REQUIRE(opened.ok());
  Store& s = opened.value();
  auto one = test::ingest(s, test::plain_report("n1@x")).case_id;
  auto two = test::ingest(s, test::plain_report("n2@x")).case_id;
  auto three = test::ingest(s, test::plain_report("n3@x")).case_id;
  auto a = s.advisory_init(one, "EXAMPLE-SA", "ana");
  auto b = s.advisory_init(two, "example-sa", "ana");
  auto c = s.advisory_init(three, "EXAMPLE-SA", "ana");
  REQUIRE((a.ok() && b.ok() && c.ok()));
  CHECK(a->tracking_id.ends_with("-0001"));
  CHECK(b->tracking_id.ends_with("-0002"));  // its file name would be the first one's
  CHECK(b->tracking_id.starts_with("example-sa-"));
  CHECK(c->tracking_id.ends_with("-0003"));
}
