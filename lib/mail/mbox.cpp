#include "mail/mbox.hpp"

namespace cased {

std::size_t read_mbox(std::istream& in, const std::function<bool(std::string&&)>& on_message) {
  std::string line, current;
  bool in_message = false, previous_blank = true;
  std::size_t count = 0;
  auto flush = [&]() -> bool {
    if (!in_message) return true;
    // The blank line before the next "From " belongs to the mbox, not the message.
    if (current.size() >= 2 && current.compare(current.size() - 2, 2, "\n\n") == 0) current.pop_back();
    else if (current.size() >= 4 && current.compare(current.size() - 4, 4, "\r\n\r\n") == 0) current.resize(current.size() - 2);
    ++count;
    bool go_on = on_message(std::move(current));
    current.clear();
    return go_on;
  };
  while (std::getline(in, line)) {
    bool had_newline = !in.eof();
    if (line.rfind("From ", 0) == 0 && previous_blank) {
      if (!flush()) return count;
      in_message = true;
      previous_blank = false;
      continue;
    }
    if (!in_message) continue;  // junk before the first "From " line
    std::size_t gt = 0;
    while (gt < line.size() && line[gt] == '>') ++gt;
    if (gt > 0 && line.compare(gt, 5, "From ") == 0) line.erase(0, 1);
    current += line;
    if (had_newline) current += '\n';
    previous_blank = line.empty() || line == "\r";
  }
  flush();
  return count;
}

}  // namespace cased
