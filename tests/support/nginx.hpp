// A real nginx (Debian's nginx-light) for the HTTP client tests: one worker, no master,
// on a free loopback port, serving files from a temporary directory, over TLS when given
// a certificate; stopped and its directory removed by the destructor.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "support/temp_dir.hpp"

extern char** environ;

namespace concur::test {

class Nginx {
 public:
  static bool installed() { return access("/usr/sbin/nginx", X_OK) == 0; }

  // A PEM certificate and its key for `listen ... ssl`.
  struct Tls {
    std::string certificate, key;
  };

  // `locations`: extra server-block directives. Files go under root() before requests.
  explicit Nginx(const std::string& locations, std::optional<Tls> tls = std::nullopt)
      : tls_(std::move(tls)), dir_("concur-nginx") {
    std::filesystem::create_directories(dir_.path() + "/www/files");
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) start(locations);
    if (pid_ <= 0) throw std::runtime_error("nginx did not start; see its messages above");
  }
  ~Nginx() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;

  std::string url() const { return (tls_ ? "https" : "http") + std::string("://127.0.0.1:") + std::to_string(port_); }
  std::string root() const { return dir_.path() + "/www"; }
  void put(const std::string& path, const std::string& bytes) const {
    std::ofstream(root() + path, std::ios::binary) << bytes;
  }

 private:
  static std::uint16_t free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    close(fd);
    return ntohs(address.sin_port);
  }

  static bool accepts(std::uint16_t port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    close(fd);
    return ok;
  }

  // Starts nginx on a port that was free a moment ago; pid_ stays 0 when it exited
  // (the port was taken meanwhile) so that the caller tries another.
  void start(const std::string& locations) {
    port_ = free_port();
    const std::string conf = dir_.path() + "/nginx.conf";
    std::ofstream(conf) << "daemon off; master_process off; worker_processes 1;\n"
                        << "pid " << dir_.path() << "/nginx.pid; error_log stderr warn;\n"
                        << "events { worker_connections 4096; }\n"
                        << "http {\n  access_log off; log_not_found off; keepalive_requests 100000; default_type application/octet-stream;\n"
                        << "  client_body_temp_path " << dir_.path() << "/body; proxy_temp_path " << dir_.path() << "/proxy;\n"
                        << "  fastcgi_temp_path " << dir_.path() << "/fastcgi; uwsgi_temp_path " << dir_.path() << "/uwsgi;\n"
                        << "  scgi_temp_path " << dir_.path() << "/scgi;\n"
                        << "  server {\n    listen 127.0.0.1:" << port_ << (tls_ ? " ssl" : "") << ";\n    root " << root() << ";\n"
                        << (tls_ ? "    ssl_certificate " + tls_->certificate + "; ssl_certificate_key " + tls_->key + ";\n" : "")
                        << "    add_header X-Connection $connection always;\n"
                        << locations << "\n  }\n}\n";
    const std::string prefix = dir_.path() + "/";
    const char* argv[] = {"nginx", "-p", prefix.c_str(), "-c", conf.c_str(), "-e", "stderr", nullptr};
    pid_t pid = 0;
    if (posix_spawn(&pid, "/usr/sbin/nginx", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) return;
    // Ready when it accepts (checked every 5 ms, at most 10 s), gone when it exited.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) return;  // exited: port taken, or bad config
      if (accepts(port_)) {
        pid_ = pid;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }

  std::optional<Tls> tls_;
  TempDir dir_;  // removed after the destructor has stopped nginx
  std::uint16_t port_ = 0;
  pid_t pid_ = 0;
};

}  // namespace concur::test
