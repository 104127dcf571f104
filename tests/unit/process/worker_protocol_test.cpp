// The worker side of the channel, driven by hand: malformed, oversized and forged
// frames get an error answer (or a protocol_error and a clean exit), never a crash.
#include "process/posix.hpp"
#include "process/result_ring.hpp"
#include "process/worker.hpp"

#include <concur/process/detail/remote_call.hpp>
#include <concur/process/detail/wire.hpp>

#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <cstring>
#include <string>
#include <vector>

namespace concur {
namespace {

using detail::FrameKind;

int add_one(int x) { return x + 1; }
std::string letters(int n) { return std::string(static_cast<std::size_t>(n), 'x'); }

class WorkerChannel : public testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      detail::run_worker(fds[1]);
    }
    ::close(fds[1]);
    fd_ = fds[0];
    std::vector<detail::Fd> ring_fd;
    const std::string hello = detail::receive_with_fds(fd_, ring_fd, 1);
    ASSERT_GT(hello.size(), detail::kFrameHeader);
    ASSERT_EQ(hello[detail::kFrameHeader], static_cast<char>(FrameKind::hello));
    ASSERT_EQ(ring_fd.size(), 1u) << "the hello frame carries the result ring";
    ring_.emplace(detail::ResultRing::open(std::move(ring_fd.front())));
    ring_->set_reader_sleeps(true);  // so each result in the ring comes with a wake frame
    detail::WorkerConfig config;
    config.name = "protocol-test";
    config.max_frame = 1 << 16;
    send(frame(FrameKind::config, [&](auto& archive) { archive(config); }));
    ASSERT_EQ(read_frame()[0], static_cast<char>(FrameKind::ready));
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    int status = 0;
    ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
    EXPECT_TRUE(WIFEXITED(status)) << "the worker crashed";
    exit_code_ = WEXITSTATUS(status);
    if (expected_exit_ >= 0) {
      EXPECT_EQ(exit_code_, expected_exit_);
    }
  }

  template <class Write>
  static std::string frame(FrameKind kind, Write write) {
    std::string out;
    const std::size_t start = detail::begin_frame(out, kind);
    {
      detail::Encoder encoder(out);
      write(encoder.archive());
    }
    detail::finish_frame(out, start);
    return out;
  }
  void send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  }
  std::string read_frame() {
    char header[detail::kFrameHeader];
    if (::recv(fd_, header, sizeof header, MSG_WAITALL) != static_cast<ssize_t>(sizeof header)) return {};
    std::string body(detail::read_frame_length(header), '\0');
    if (::recv(fd_, body.data(), body.size(), MSG_WAITALL) != static_cast<ssize_t>(body.size())) return {};
    return body;
  }
  // The next result frame's body: from the ring after the wake frame the worker sends
  // (the reader says it sleeps), or from the channel where the ring says so.
  std::string read_result_body() {
    const std::string wake = read_frame();
    EXPECT_EQ(wake[0], static_cast<char>(FrameKind::wake));
    std::string scratch;
    const auto body = ring_->peek(scratch);
    if (!body) {
      ADD_FAILURE() << "a wake frame without a result in the ring";
      return {};
    }
    std::string result(*body);
    ring_->pop();
    return result;
  }
  // A result's status and its message (for error statuses).
  std::pair<detail::ResultStatus, std::string> read_result() {
    const std::string body = read_result_body();
    EXPECT_EQ(body[0], static_cast<char>(FrameKind::result));
    const auto status = static_cast<detail::ResultStatus>(body[1 + 8]);
    std::string message;
    if (status == detail::ResultStatus::serialization) {
      detail::Decoder decoder(std::string_view(body).substr(1 + 10));
      decoder.archive()(message);
    }
    return {status, message};
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  std::optional<detail::ResultRing> ring_;
  int exit_code_ = -1;
  int expected_exit_ = 0;
};

TEST_F(WorkerChannel, RunsAWellFormedTask) {
  std::string task;
  detail::encode_task<&detail::remote_entry<int (*)(int), int, int>>(
      task, 1, [](auto& archive) {
        detail::put_callable<int (*)(int)>(archive, &add_one);
        detail::put(archive, 41);
      });
  send(task);
  const std::string body = read_result_body();
  ASSERT_EQ(body[0], static_cast<char>(FrameKind::result));
  EXPECT_EQ(static_cast<detail::ResultStatus>(body[9]), detail::ResultStatus::value);
  detail::Decoder decoder(std::string_view(body).substr(11));
  EXPECT_EQ(detail::take<int>(decoder.archive()), 42);
}

TEST_F(WorkerChannel, AResultTooLargeForTheRingComesOnTheChannelBehindItsPlaceInTheRing) {
  std::string task;
  for (std::uint64_t id : {1, 2}) {
    detail::encode_task<&detail::remote_entry<std::string (*)(int), std::string, int>>(
        task, id, [&](auto& archive) {
          detail::put_callable<std::string (*)(int)>(archive, &letters);
          detail::put(archive, id == 1 ? static_cast<int>(detail::ResultRing::kMaxEntry) : 3);
        });
  }
  send(task);  // both at once
  // The large one: a placeholder in the ring (no wake: the frame itself wakes), then the frame.
  const std::string large = read_frame();
  ASSERT_EQ(large[0], static_cast<char>(FrameKind::result));
  EXPECT_GT(large.size(), detail::ResultRing::kMaxEntry - detail::kFrameHeader);
  std::string scratch;
  const auto placeholder = ring_->peek(scratch);
  ASSERT_TRUE(placeholder.has_value());
  EXPECT_EQ((*placeholder)[0], static_cast<char>(FrameKind::result_on_channel));
  ring_->pop();
  // The small one after it, in the ring.
  const std::string small = read_result_body();
  ASSERT_EQ(small[0], static_cast<char>(FrameKind::result));
  std::uint64_t id = 0;
  std::memcpy(&id, small.data() + 1, sizeof id);
  EXPECT_EQ(id, 2u);
  detail::Decoder decoder(std::string_view(small).substr(11));
  EXPECT_EQ(detail::take<std::string>(decoder.archive()), "xxx");
}

TEST_F(WorkerChannel, RefusesAnEntryOutsideTheModulesCode) {
  const auto entry = detail::entry_location<&detail::remote_entry<int (*)(int), int, int>>();
  send(frame(FrameKind::task, [&](auto& archive) {
    archive(std::uint64_t{1}, entry.module, std::uint64_t{1} << 40, 0);
  }));
  const auto [status, message] = read_result();
  EXPECT_EQ(status, detail::ResultStatus::serialization);
  EXPECT_NE(message.find("not inside the code"), std::string::npos) << message;
}

TEST_F(WorkerChannel, RefusesAFunctionPointerIntoAnUnknownModule) {
  send(frame(FrameKind::task, [&](auto& archive) {
    const auto entry = detail::entry_location<&detail::remote_entry<int (*)(int), int, int>>();
    archive(std::uint64_t{1}, entry.module, entry.offset);
    archive(std::string("/no/such/module.so"), std::uint64_t{16}, 5);
  }));
  EXPECT_EQ(read_result().first, detail::ResultStatus::serialization);
}

TEST_F(WorkerChannel, AnswersATruncatedPayloadWithASerializationError) {
  send(frame(FrameKind::task, [&](auto& archive) {
    const auto entry = detail::entry_location<&detail::remote_entry<int (*)(int), int, int>>();
    archive(std::uint64_t{1}, entry.module, entry.offset);  // no callable, no argument
  }));
  EXPECT_EQ(read_result().first, detail::ResultStatus::serialization);
  // And the worker is still fine.
  std::string task;
  detail::encode_task<&detail::remote_entry<int (*)(int), int, int>>(task, 2, [](auto& archive) {
    detail::put_callable<int (*)(int)>(archive, &add_one);
    detail::put(archive, 1);
  });
  send(task);
  EXPECT_EQ(read_result().first, detail::ResultStatus::value);
}

TEST_F(WorkerChannel, AnOversizedFrameGetsAProtocolErrorAndACleanExit) {
  std::string header(detail::kFrameHeader, '\xff');  // 2^64 - 1 bytes announced
  send(header);
  const std::string body = read_frame();
  ASSERT_FALSE(body.empty());
  EXPECT_EQ(body[0], static_cast<char>(FrameKind::protocol_error));
  expected_exit_ = detail::kProtocolExit;
}

TEST_F(WorkerChannel, AnUnknownFrameKindGetsAProtocolError) {
  send(frame(static_cast<FrameKind>(99), [](auto& archive) { archive(1); }));
  EXPECT_EQ(read_frame()[0], static_cast<char>(FrameKind::protocol_error));
  expected_exit_ = detail::kProtocolExit;
}

TEST(FrameCodec, LengthRoundTripsAndTruncatedInputThrows) {
  std::string out;
  const std::size_t start = detail::begin_frame(out, FrameKind::task);
  out.append(300, 'x');
  detail::finish_frame(out, start);
  EXPECT_EQ(detail::read_frame_length(out.data()), 301u);
  detail::Decoder decoder(std::string_view("\x01\x02", 2));
  EXPECT_THROW((void)detail::take<std::uint64_t>(decoder.archive()), cereal::Exception);
}

TEST(FrameCodec, NestedEncodersAndDecodersOnOneThreadKeepTheirOwnStreams) {
  // Each thread lends out one stream of each kind; one made while it is lent (a user
  // type's save() that encodes something itself) must not write into the outer one.
  std::string outer, inner;
  {
    detail::Encoder a(outer);
    detail::put(a.archive(), 1);
    {
      detail::Encoder b(inner);
      detail::put(b.archive(), 2);
    }
    detail::put(a.archive(), 3);
  }
  detail::Decoder x(outer);
  {
    detail::Decoder y(inner);
    EXPECT_EQ(detail::take<int>(y.archive()), 2);
    EXPECT_EQ(y.consumed(), sizeof(int));
  }
  EXPECT_EQ(detail::take<int>(x.archive()), 1);
  EXPECT_EQ(detail::take<int>(x.archive()), 3);
  EXPECT_EQ(x.consumed(), 2 * sizeof(int));
}

TEST(FrameCodec, AFailedReadLeavesTheThreadsStreamUsable) {
  {
    detail::Decoder short_input(std::string_view("\x01", 1));
    EXPECT_THROW((void)detail::take<std::uint64_t>(short_input.archive()), cereal::Exception);
  }
  std::string bytes;
  {
    detail::Encoder encoder(bytes);
    detail::put(encoder.archive(), std::uint64_t{42});
  }
  detail::Decoder decoder(bytes);
  EXPECT_EQ(detail::take<std::uint64_t>(decoder.archive()), 42u) << "the thread's stream serves the next Decoder";
}

}  // namespace
}  // namespace concur
