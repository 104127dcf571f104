// http::Client against a real nginx: statuses and headers, keep-alive reuse (nginx
// numbers its connections in X-Connection), a body over the limit, redirects and a
// redirect loop, cancel mid-transfer of a rate-limited file, 1,000 concurrent requests;
// over TLS with a self-signed certificate: refused when verified, accepted with verify_tls
// off or the certificate as ca_file.
#include <concur/http/blocking.hpp>
#include <concur/http/client.hpp>
#include <concur/http/data_service.hpp>

#include <concur/loop/gather.hpp>
#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/spawn.hpp>

#include "support/http_tasks.hpp"
#include "support/leak_check.hpp"
#include "support/nginx.hpp"
#include "support/self_signed_certificate.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace concur {
namespace {

using namespace std::chrono_literals;
using http::DataFormat;

const char* const locations =
    "    location = /status/418 { return 418 \"teapot\\n\"; }\n"
    "    location = /loop { return 302 /loop; }\n"
    "    location = /redirect { return 302 /files/small; }\n"
    "    location /slow/ { rewrite ^/slow/(.*)$ /files/$1 break; limit_rate 64k; }\n";

class NginxInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::Nginx::installed()) GTEST_SKIP() << "nginx is not installed (scripts/deps.sh installs nginx-light)";
    nginx_.emplace(configuration());
    nginx_->put("/files/small", http::data_file(1, 1024, DataFormat::json));
    nginx_->put("/files/big", http::data_file(2, 3 << 20, DataFormat::binary));
  }
  static std::string configuration() { return locations; }
  std::optional<test::Nginx> nginx_;
};

TEST_F(NginxInterop, StatusesHeadersAndBodies) {
  run([this]() -> Task<void> {
    http::Client client;
    const http::Response small = co_await client.get(nginx_->url() + "/files/small");
    EXPECT_EQ(small.status, 200);
    EXPECT_EQ(small.body, http::data_file(1, 1024, DataFormat::json));
    EXPECT_TRUE(small.headers.get("server").value_or("").starts_with("nginx")) << small.headers.get("server").value_or("");
    EXPECT_EQ(small.headers.get("content-length"), "1024");
    EXPECT_EQ((co_await client.get(nginx_->url() + "/missing")).status, 404);
    const http::Response teapot = co_await client.get(nginx_->url() + "/status/418");
    EXPECT_EQ(teapot.status, 418);
    EXPECT_EQ(teapot.body, "teapot\n");
    const http::Response big = co_await client.get(nginx_->url() + "/files/big");
    EXPECT_EQ(big.body, http::data_file(2, 3 << 20, DataFormat::binary));
  }());
}

TEST_F(NginxInterop, ReusesOneConnection) {
  run([this]() -> Task<void> {
    http::Client client;
    std::set<std::string> connections;
    for (int i = 0; i < 20; ++i) {
      const http::Response r = co_await client.get(nginx_->url() + "/files/small");
      connections.insert(std::string(r.headers.get("x-connection").value_or("?")));
    }
    EXPECT_EQ(connections.size(), 1u);
    EXPECT_EQ(client.connections_opened(), 1u);
  }());
}

TEST_F(NginxInterop, LimitsBodiesAndRedirects) {
  run([this]() -> Task<void> {
    http::Client client;
    http::RequestOptions one_mib;
    one_mib.max_body_size = 1 << 20;
    EXPECT_TRUE((co_await test::error_of<http::BodyTooLarge>(client.get(nginx_->url() + "/files/big", one_mib)))
                    .has_value());
    const http::Response followed = co_await client.get(nginx_->url() + "/redirect");
    EXPECT_EQ(followed.status, 200);
    EXPECT_EQ(followed.url, nginx_->url() + "/files/small");
    EXPECT_TRUE((co_await test::error_of<http::TooManyRedirects>(client.get(nginx_->url() + "/loop"))).has_value());
  }());
}

TEST_F(NginxInterop, CancelStopsATransferMidway) {
  run([this]() -> Task<void> {
    http::Client client;
    // 3 MiB at 64 KiB/s would take ~48 s.
    auto handle = spawn(client.get(nginx_->url() + "/slow/big"));
    co_await sleep(300ms);  // the scenario: the transfer is under way (not a synchronisation)
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(co_await test::cancel_and_join(handle));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    EXPECT_EQ(client.in_flight(), 0u);
    EXPECT_EQ((co_await client.get(nginx_->url() + "/files/small")).status, 200);  // still works
  }());
}

TEST_F(NginxInterop, AThousandConcurrentRequests) {
  run([this]() -> Task<void> {
    http::Client client;
    const std::size_t n = std::max<std::size_t>(test::scaled(1000), 50);
    std::vector<Task<http::Response>> requests;
    for (std::size_t i = 0; i < n; ++i) requests.push_back(client.get(nginx_->url() + "/files/small"));
    std::size_t ok = 0;
    for (const http::Response& r : co_await gather(std::move(requests))) ok += r.status == 200 && r.body.size() == 1024;
    EXPECT_EQ(ok, n);
    EXPECT_LE(client.connections_opened(), 100u);  // the client's default limit
  }());
}

class NginxTls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::Nginx::installed()) GTEST_SKIP() << "nginx is not installed (scripts/deps.sh installs nginx-light)";
    if (!test::SelfSignedCertificate::can_make()) GTEST_SKIP() << "openssl is not installed (scripts/deps.sh installs it)";
    certificate_.emplace();
    nginx_.emplace("", test::Nginx::Tls{certificate_->certificate_file(), certificate_->key_file()});
    nginx_->put("/files/small", http::data_file(1, 1024, DataFormat::json));
  }
  http::RequestOptions trusting_the_certificate() const {
    http::RequestOptions options;
    options.ca_file = certificate_->certificate_file();
    return options;
  }
  std::optional<test::SelfSignedCertificate> certificate_;
  std::optional<test::Nginx> nginx_;
};

TEST_F(NginxTls, AnUntrustedCertificateIsRefusedByDefault) {
  const std::string url = nginx_->url() + "/files/small";
  ASSERT_TRUE(url.starts_with("https://"));
  run([&]() -> Task<void> {
    http::Client client;
    const auto error = co_await test::error_of<http::TlsError>(client.get(url));
    CO_ASSERT_TRUE(error.has_value());
    EXPECT_NE(error->find("certificate"), std::string::npos) << *error;
  }());
  EXPECT_THROW(http::get(url), http::TlsError);
}

TEST_F(NginxTls, VerifyOffOrTheCertificateAsCaFileAccepts) {
  const std::string url = nginx_->url() + "/files/small";
  http::RequestOptions unverified;
  unverified.verify_tls = false;
  run([&]() -> Task<void> {
    http::Client client;
    const http::Response a = co_await client.get(url, unverified);
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.body, http::data_file(1, 1024, DataFormat::json));
    const http::Response b = co_await client.get(url, trusting_the_certificate());
    EXPECT_EQ(b.status, 200);
    EXPECT_EQ(b.body, a.body);
  }());
  EXPECT_EQ(http::get(url, trusting_the_certificate()).body, http::data_file(1, 1024, DataFormat::json));
  EXPECT_EQ(http::get(url, unverified).status, 200);
}

TEST_F(NginxTls, AnUnreadableCaFileIsBadInput) {
  http::RequestOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  try {
    http::get(nginx_->url() + "/files/small", options);
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/ca.pem"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace concur
