// The web report form ([web]): an HTTP (or, with tls_cert and tls_key,
// HTTPS) server on cpp-httplib, on threads of its own. GET / serves the
// form, POST /report stores a report through the ingest writer the LMTP
// listener uses (the case opens, is threaded, acknowledged and searchable
// like mail) and answers the receipt only after the commit. Also the
// alias's signed security.txt and its key for Web Key Directory lookups.
#pragma once

#include <functional>
#include <memory>

#include "core/config.hpp"
#include "store/ingest_writer.hpp"

namespace cased {

class WebServer {
 public:
  // Binds every web.listen address (throws std::runtime_error naming the
  // one that fails, or an unreadable certificate) and starts serving.
  // `stored` runs after each report's commit (the outbox is woken there).
  WebServer(const Config& config, IngestWriter& writer, std::function<void(const IngestResult&)> stored);
  ~WebServer();  // stop() and join
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Closes the listeners; requests under way finish. Any thread.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cased
