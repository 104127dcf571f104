// A self-signed certificate for 127.0.0.1 (an EC P-256 key, valid two days) made with
// the openssl program in a temporary directory, removed by the destructor; for tests of
// TLS against a local server.
#pragma once

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

extern char** environ;

namespace concur::test {

class SelfSignedCertificate {
 public:
  static bool can_make() { return access("/usr/bin/openssl", X_OK) == 0; }

  SelfSignedCertificate() {
    char pattern[] = "/tmp/concur-tls-XXXXXX";
    if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    const std::string key = key_file(), certificate = certificate_file();
    const char* argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                          "-nodes", "-keyout", key.c_str(), "-out", certificate.c_str(), "-days", "2",
                          "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", nullptr};
    pid_t pid = 0;
    int status = 0;
    if (posix_spawn(&pid, "/usr/bin/openssl", nullptr, nullptr, const_cast<char**>(argv), environ) != 0 ||
        waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      remove();
      throw std::runtime_error("openssl could not make a self-signed certificate; see its messages above");
    }
  }
  ~SelfSignedCertificate() { remove(); }
  SelfSignedCertificate(const SelfSignedCertificate&) = delete;
  SelfSignedCertificate& operator=(const SelfSignedCertificate&) = delete;

  std::string certificate_file() const { return dir_ + "/certificate.pem"; }
  std::string key_file() const { return dir_ + "/key.pem"; }

 private:
  void remove() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string dir_;
};

}  // namespace concur::test
