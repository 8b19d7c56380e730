#include "common/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

// The whole answer to `request` from 127.0.0.1:port.
std::string Ask(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ==
      0) {
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0) answer.append(buffer, n);
  }
  close(fd);
  return answer;
}

TEST(MetricsTest, ServesRegisteredFamiliesAndCollectors) {
  prometheus::BuildCounter()
      .Name("paramd_test_things_total")
      .Help("Things.")
      .Register(MetricsRegistry())
      .Add({{"kind", "a"}})
      .Increment(3);
  int scrapes = 0;
  AddMetricsCollector([&scrapes] {
    ++scrapes;
    return std::vector<prometheus::MetricFamily>{
        MakeFamily("paramd_test_level", "A level.",
                   prometheus::MetricType::Gauge, {{{{"table", "w"}}, 2.5}})};
  });
  absl::StatusOr<int> port = ServeMetrics("127.0.0.1", 0);
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_GT(*port, 0);

  const std::string page =
      Ask(*port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(page, "HTTP/1.1 200 OK\r\n")) << page;
  EXPECT_TRUE(absl::StrContains(page, "paramd_test_things_total{kind=\"a\"} 3"))
      << page;
  EXPECT_TRUE(absl::StrContains(page, "# TYPE paramd_test_level gauge"));
  EXPECT_TRUE(absl::StrContains(page, "paramd_test_level{table=\"w\"} 2.5"));
  EXPECT_EQ(scrapes, 1);
  const size_t body = page.find("\r\n\r\n") + 4;
  EXPECT_TRUE(absl::StrContains(
      page, absl::StrCat("Content-Length: ", page.size() - body, "\r\n")));

  EXPECT_TRUE(absl::StartsWith(Ask(*port, "GET / HTTP/1.1\r\n\r\n"),
                               "HTTP/1.1 404 Not Found\r\n"));
  EXPECT_TRUE(absl::StartsWith(Ask(*port, "garbage\r\n\r\n"),
                               "HTTP/1.1 404 Not Found\r\n"));
  EXPECT_EQ(scrapes, 1);
  // A port in use, or a host that is not an address, is refused.
  EXPECT_FALSE(ServeMetrics("127.0.0.1", *port).ok());
  EXPECT_FALSE(ServeMetrics("not-an-address", 0).ok());
}

}  // namespace
}  // namespace paramd
