#include <catch2/catch.hpp>

#include "web/connections.hpp"

using cased::web::ConnectionTable;

TEST_CASE("web connections: a cap per client, none for the proxy", "[web]") {
  ConnectionTable t(2, 60);
  CHECK(t.admit(1, "192.0.2.1", 0));
  CHECK(t.admit(2, "192.0.2.1", 0));
  CHECK_FALSE(t.admit(3, "192.0.2.1", 0));  // cut at once
  CHECK(t.admit(4, "192.0.2.2", 0));        // another client
  for (std::uint64_t id = 10; id < 50; ++id) CHECK(t.admit(id, "", 0));
  t.finish(3);
  t.finish(1);
  CHECK(t.admit(5, "192.0.2.1", 1));  // room again
  CHECK_FALSE(t.admit(6, "192.0.2.1", 1));
  t.finish(999);  // unknown: nothing happens
  CHECK(t.open() == 44);
}

TEST_CASE("web connections: each overdue connection is named once", "[web]") {
  ConnectionTable t(8, 60);
  t.admit(1, "192.0.2.1", 0);
  t.admit(2, "", 30);
  CHECK(t.overdue(59).empty());
  CHECK(t.overdue(60) == std::vector<std::uint64_t>{1});
  CHECK(t.overdue(61).empty());
  CHECK(t.overdue(95) == std::vector<std::uint64_t>{2});
  t.finish(1);
  t.finish(2);
  CHECK(t.open() == 0);
  CHECK(t.overdue(1000).empty());
}
