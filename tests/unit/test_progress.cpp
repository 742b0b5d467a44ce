// The progress line of long work (cli/progress.hpp), on a fake clock and a
// string for a terminal.
#include <catch2/catch.hpp>
#include <string>

#include "cli/progress.hpp"

using namespace cased::cli;

namespace {

struct Screen {
  double now = 100.0;
  std::string out;
  Progress make(Progress::Words words, std::size_t width = 80) {
    return Progress(std::move(words), [this](std::string_view s) { out += s; }, [this] { return now; }, width);
  }
  std::size_t draws() const {
    std::size_t n = 0;
    for (char c : out) n += c == '\r';
    return n;
  }
};

const Progress::Words kImport{"importing", "imported", "messages"};

}  // namespace

TEST_CASE("progress: numbers and durations as people read them", "[progress]") {
  CHECK(thousands(0) == "0");
  CHECK(thousands(999) == "999");
  CHECK(thousands(1000) == "1,000");
  CHECK(thousands(1234567) == "1,234,567");
  CHECK(duration_text(3.42) == "3.4 s");
  CHECK(duration_text(75) == "1:15");
  CHECK(duration_text(3725) == "1:02:05");
  CHECK(duration_text(-1) == "0.0 s");
}

TEST_CASE("progress: redrawn at most five times a second, with count and rate", "[progress]") {
  Screen screen;
  Progress p = screen.make(kImport);
  // 20,000 messages over 4 seconds, one update each.
  for (int i = 1; i <= 20000; ++i) {
    screen.now = 100.0 + i * 0.0002;
    p.update(static_cast<std::uint64_t>(i));
  }
  CHECK(screen.draws() >= 15);
  CHECK(screen.draws() <= 21);
  CHECK(screen.out.find("\rimporting: 19,") != std::string::npos);
  CHECK(p.line(104.0) == "importing: 20,000 messages, 5,000/s, 4.0 s");
  CHECK(screen.out.find('\n') == std::string::npos);
}

TEST_CASE("progress: time left when the whole is known", "[progress]") {
  Screen screen;
  Progress p = screen.make({"backing up", "backed up", "pages"});
  p.total(1000);
  screen.now += 0.5;
  p.update(100);
  // Under a second: the time so far, no guess yet.
  CHECK(p.line(screen.now) == "backing up: 100 of 1,000 pages, 200/s, 10%, 0.5 s");
  screen.now += 1.5;
  p.update(250);
  CHECK(p.line(screen.now) == "backing up: 250 of 1,000 pages, 125/s, 25%, 6.0 s left");
  // Or a fraction measured otherwise (bytes of a file).
  Progress q = screen.make(kImport);
  screen.now += 2;
  q.update(50, 0.5);
  CHECK(q.line(screen.now) == "importing: 50 messages, 25/s, 50%, 2.0 s left");
  screen.now += 120;
  CHECK(q.line(screen.now) == "importing: 50 messages, 0/s, 50%, 2:02 left");
}

TEST_CASE("progress: a new step is drawn at once; a long line is cut to the terminal", "[progress]") {
  Screen screen;
  Progress p = screen.make({"verifying", "verify ran", "steps", false}, 30);
  p.total(4);
  p.update(0, std::nullopt, "integrity");
  CHECK(screen.draws() == 1);
  CHECK(screen.out == "\rverifying: 0 of 4 steps (inte");  // 29 columns: no wrap
  p.update(1, std::nullopt, "cases");
  CHECK(screen.draws() == 2);
  p.update(1, std::nullopt, "cases");
  CHECK(screen.draws() == 2);
}

TEST_CASE("progress: cleared at the end and replaced by the summary", "[progress]") {
  Screen screen;
  Progress p = screen.make(kImport);
  screen.now += 0.3;
  p.update(10);
  std::string drawn = screen.out;
  REQUIRE(drawn.size() > 1);
  screen.out.clear();
  screen.now = 100 + 3.4;
  p.update(20000);
  screen.out.clear();
  p.finish(", 0 duplicates");
  // Spaces over the line, back to its start, then the summary.
  std::string blank = "\r" + std::string(screen.out.find('\r', 1) - 1, ' ') + "\r";
  CHECK(screen.out.rfind(blank, 0) == 0);
  CHECK(screen.out.substr(blank.size()) == "imported 20,000 messages in 3.4 s (5,882/s), 0 duplicates\n");
  // Once only.
  p.finish();
  CHECK(screen.out.substr(blank.size()) == "imported 20,000 messages in 3.4 s (5,882/s), 0 duplicates\n");
}

TEST_CASE("progress: a shorter line overwrites a longer one; work that fails leaves no line", "[progress]") {
  Screen screen;
  {
    Progress p = screen.make({"verifying", "verify ran", "steps", false});
    p.update(0, std::nullopt, "a long step name");
    p.update(1, std::nullopt, "b");
    std::string second = screen.out.substr(screen.out.find('\r', 1));
    CHECK(second.size() == screen.out.find('\r', 1));  // padded to the first line's length
  }
  // Destroyed without finish(): the line is blanked, no summary.
  CHECK(screen.out.back() == '\r');
  CHECK(screen.out.find("verify ran") == std::string::npos);
}

TEST_CASE("progress: without a terminal nothing at all", "[progress]") {
  double now = 0;
  Progress p(kImport, nullptr, [&] { return now; });
  CHECK_FALSE(p.active());
  p.update(5);
  now = 10;
  p.update(10);
  p.finish(", 0 duplicates");  // and no crash: nothing to write to
}
