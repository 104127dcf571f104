// A self-signed certificate for 127.0.0.1 (an EC P-256 key, valid two days) made with
// the openssl program in a temporary directory, removed with it; for tests of
// TLS against a local server.
#pragma once

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "support/temp_dir.hpp"

extern char** environ;

namespace concur::test {

class SelfSignedCertificate {
 public:
  static bool can_make() { return access("/usr/bin/openssl", X_OK) == 0; }

  SelfSignedCertificate() : dir_("concur-tls") {
    const std::string key = key_file(), certificate = certificate_file();
    const char* argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                          "-nodes", "-keyout", key.c_str(), "-out", certificate.c_str(), "-days", "2",
                          "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", nullptr};
    pid_t pid = 0;
    int status = 0;
    if (posix_spawn(&pid, "/usr/bin/openssl", nullptr, nullptr, const_cast<char**>(argv), environ) != 0 ||
        waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      throw std::runtime_error("openssl could not make a self-signed certificate; see its messages above");
    }
  }
  SelfSignedCertificate(const SelfSignedCertificate&) = delete;
  SelfSignedCertificate& operator=(const SelfSignedCertificate&) = delete;

  std::string certificate_file() const { return dir_.file("certificate.pem"); }
  std::string key_file() const { return dir_.file("key.pem"); }

 private:
  TempDir dir_;
};

}  // namespace concur::test
