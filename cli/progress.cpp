#include "progress.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace cased::cli {
namespace {

constexpr double kRedraw = 0.2;  // seconds between redraws: five a second at most

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void to_stderr(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

std::string rate_text(double per_second) {
  return thousands(static_cast<std::uint64_t>(std::llround(per_second)));
}

}  // namespace

std::string thousands(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string duration_text(double seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  auto s = static_cast<std::uint64_t>(std::llround(seconds));
  if (s < 3600) return fmt::format("{}:{:02}", s / 60, s % 60);
  return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

Progress::Progress(Words words, Sink sink, Clock clock, std::size_t width)
    : words_(std::move(words)), sink_(std::move(sink)), clock_(std::move(clock)), width_(width) {
  if (sink_) start_ = last_draw_ = clock_();
}

Progress Progress::on_terminal(Words words) {
  if (!::isatty(STDERR_FILENO)) return Progress(std::move(words), nullptr, steady_seconds);
  struct winsize ws {};
  std::size_t width = ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col : 80;
  return Progress(std::move(words), to_stderr, steady_seconds, width);
}

Progress::~Progress() {
  if (!finished_) clear();
}

void Progress::update(std::uint64_t done, std::optional<double> fraction, std::string_view step) {
  if (!sink_) return;
  done_ = done;
  if (fraction) fraction_ = std::clamp(*fraction, 0.0, 1.0);
  bool new_step = step != step_;
  if (new_step) step_ = step;
  double now = clock_();
  if (new_step || now - last_draw_ >= kRedraw) draw(now);
}

std::string Progress::line(double now) const {
  double elapsed = now - start_;
  std::string out = fmt::format("{}: {}", words_.doing, thousands(done_));
  if (total_) out += " of " + thousands(*total_);
  out += " " + words_.unit;
  if (!step_.empty()) out += fmt::format(" ({})", step_);
  if (words_.rate && elapsed > 0) out += fmt::format(", {}/s", rate_text(static_cast<double>(done_) / elapsed));
  std::optional<double> f = fraction_;
  if (!f && total_ && *total_ > 0) f = static_cast<double>(done_) / static_cast<double>(*total_);
  if (f) out += fmt::format(", {}%", static_cast<int>(*f * 100));
  // Time left once there is something to go by; else the time so far.
  if (f && *f > 0 && elapsed >= 1) out += fmt::format(", {} left", duration_text(elapsed * (1 - *f) / *f));
  else out += fmt::format(", {}", duration_text(elapsed));
  return out;
}

void Progress::draw(double now) {
  last_draw_ = now;
  std::string text = line(now);
  if (width_ > 1 && text.size() > width_ - 1) text.resize(width_ - 1);
  std::string out = "\r" + text;
  if (drawn_ > text.size()) out.append(drawn_ - text.size(), ' ');
  sink_(out);
  drawn_ = text.size();
}

void Progress::clear() {
  if (!sink_ || drawn_ == 0) return;
  sink_("\r" + std::string(drawn_, ' ') + "\r");
  drawn_ = 0;
}

void Progress::finish(std::string_view extra) {
  if (!sink_ || finished_) return;
  finished_ = true;
  clear();
  double elapsed = clock_() - start_;
  std::string out = fmt::format("{} {} {} in {}", words_.done, thousands(done_), words_.unit, duration_text(elapsed));
  if (words_.rate && elapsed > 0)
    out += fmt::format(" ({}/s)", rate_text(static_cast<double>(done_) / elapsed));
  sink_(out + std::string(extra) + "\n");
}

}  // namespace cased::cli
