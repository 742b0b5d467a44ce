// Progress of long work (ingest --mbox, backup, verify, export) on a
// terminal: one line on stderr, redrawn at most five times a second with a
// carriage return, with the count, the rate and, when the whole is known,
// the time left; cleared at the end and replaced by a summary line
// ("imported 20,000 messages in 3.4 s (5,900/s), 0 duplicates"). When
// stderr is not a terminal it prints nothing at all: what a script reads
// stays what it was. The clock and the sink are parameters, for the tests.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cased::cli {

class Progress {
 public:
  using Clock = std::function<double()>;                // seconds, monotonic
  using Sink = std::function<void(std::string_view)>;  // writes and flushes

  struct Words {
    std::string doing;  // "importing"
    std::string done;   // "imported"
    std::string unit;   // "messages"
    bool rate = true;   // show units per second (not for a few uneven steps)
  };

  // No sink: a Progress that prints nothing. `width`: the terminal's
  // columns (a longer line would wrap and the carriage return not clear it).
  Progress(Words words, Sink sink, Clock clock, std::size_t width = 80);
  // On stderr when it is a terminal, else silent.
  static Progress on_terminal(Words words);

  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  Progress(Progress&&) = default;
  Progress& operator=(Progress&&) = delete;
  ~Progress();  // clears a line left drawn (work that failed)

  bool active() const { return static_cast<bool>(sink_); }
  // The count of the whole, when it is known.
  void total(std::uint64_t n) { total_ = n; }
  // `done` units so far. `fraction`: how much of the whole is done when it
  // is measured otherwise (bytes of a file read). A new `step` (the name of
  // what runs now) is drawn at once.
  void update(std::uint64_t done, std::optional<double> fraction = std::nullopt, std::string_view step = {});
  // Clears the line and prints the summary, `extra` after it.
  void finish(std::string_view extra = {});

  // The line as it would be drawn now.
  std::string line(double now) const;

 private:
  void draw(double now);
  void clear();

  Words words_;
  Sink sink_;
  Clock clock_;
  std::size_t width_;
  double start_ = 0;
  double last_draw_ = 0;
  std::uint64_t done_ = 0;
  std::optional<std::uint64_t> total_;
  std::optional<double> fraction_;
  std::string step_;
  std::size_t drawn_ = 0;  // length of the line on screen; 0 none
  bool finished_ = false;
};

// 20000 -> "20,000".
std::string thousands(std::uint64_t n);
// 3.42 -> "3.4 s"; 75 -> "1:15"; 3725 -> "1:02:05".
std::string duration_text(double seconds);

}  // namespace cased::cli
