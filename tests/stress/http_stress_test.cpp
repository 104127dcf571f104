// HTTP under load: 1,000 concurrent requests from one Client to the data service, every
// body checked; and wrk (Debian's wrk) sending 10,000+ requests over keep-alive to the
// server with no error. Bounded in count and time; loopback only.
#include <concur/http/client.hpp>
#include <concur/http/data_service.hpp>
#include <concur/http/server.hpp>

#include <concur/loop/gather.hpp>
#include <concur/loop/run.hpp>
#include <concur/net/subprocess.hpp>

#include "support/http_tasks.hpp"
#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <regex>
#include <string>

namespace concur {
namespace {

using http::DataFormat;

// 1,000 requests and the server's side of them hold ~2,000 descriptors in this process.
bool raise_descriptor_limit(rlim_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur >= wanted) return true;
  if (limit.rlim_max < wanted) return false;
  limit.rlim_cur = wanted;
  return setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

TEST(HttpStress, AThousandConcurrentRequestsAllArriveIntact) {
  if (!raise_descriptor_limit(4096)) GTEST_SKIP() << "RLIMIT_NOFILE's hard limit is below 4096";
  const std::size_t n = std::max<std::size_t>(test::scaled(1000), 50);
  run([n]() -> Task<void> {
    http::DataServiceOptions slow = test::instant_data();
    slow.latency = std::chrono::milliseconds(50);  // all are in flight together
    http::Server server = co_await http::start_server(http::data_service(slow), "127.0.0.1", 0);
    for (const std::size_t limit : {std::size_t{0}, std::size_t{100}}) {
      http::ClientOptions options;
      options.max_connections = limit;
      http::Client client(options);
      std::vector<Task<http::Response>> requests;
      for (std::size_t i = 0; i < n; ++i) requests.push_back(client.get(server.url() + "/files/" + std::to_string(i)));
      const std::vector<http::Response> all = co_await gather(std::move(requests));
      std::size_t intact = 0;
      for (std::size_t i = 0; i < n; ++i) intact += all[i].body == http::data_file(i, 1024, DataFormat::json);
      EXPECT_EQ(intact, n) << "connection limit " << limit;
      if (limit > 0) {
        EXPECT_LE(client.connections_opened(), limit);
      }
    }
    co_await test::close_server(server);
    EXPECT_EQ(co_await test::handles_left_open(), 0u);
  }());
}

TEST(HttpStress, WrkSendsTenThousandRequestsWithoutAnError) {
  if (access("/usr/bin/wrk", X_OK) != 0) GTEST_SKIP() << "wrk is not installed (scripts/deps.sh installs it)";
  run([]() -> Task<void> {
    http::Server server = co_await http::start_server(http::data_service(test::instant_data()), "127.0.0.1", 0);
    // wrk runs for a time, not a count: 3 s at 10 connections gives well over 10,000
    // requests here (the check below says how many it got).
    SubprocessOptions options;
    options.stdout_mode = Redirect::pipe;
    options.stderr_mode = Redirect::pipe;
    std::vector<std::string> args{"-t1", "-c10", "-d3s", server.url() + "/files/1?size=1024"};
    Subprocess wrk = co_await create_subprocess_exec("/usr/bin/wrk", std::move(args), options);
    const SubprocessOutput out = co_await wrk.communicate();
    EXPECT_EQ(out.returncode, 0) << out.err;
    std::smatch m;
    const std::regex count_line("([0-9]+) requests in");
    const bool counted = std::regex_search(out.out, m, count_line);
    CO_ASSERT_TRUE(counted);
    EXPECT_GE(std::stoul(m[1].str()), test::scaled(10'000)) << out.out;  // sanitizers: fewer
    EXPECT_EQ(out.out.find("Socket errors"), std::string::npos) << out.out;
    EXPECT_EQ(out.out.find("Non-2xx"), std::string::npos) << out.out;
    EXPECT_GE(server.requests_served(), std::stoul(m[1].str()));
    co_await test::close_server(server);
  }());
}

}  // namespace
}  // namespace concur
