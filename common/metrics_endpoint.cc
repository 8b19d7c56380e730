#include "common/metrics_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace paramd {
namespace {

constexpr size_t kMaxRequestBytes = 8192;

// Reads the request head (up to the blank line), for at most 2 s in all.
std::string ReadHead(int fd) {
  const absl::Time give_up = absl::Now() + absl::Seconds(2);
  timeval timeout = {0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string head;
  char buffer[1024];
  while (head.size() < kMaxRequestBytes &&
         !absl::StrContains(head, "\r\n\r\n") && absl::Now() < give_up) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    head.append(buffer, static_cast<size_t>(n));
  }
  return head;
}

// Writes `data`, giving up on a client that takes more than 2 s per send.
void WriteAll(int fd, const std::string& data) {
  timeval timeout = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

void Answer(int fd, const std::function<std::string()>& render) {
  const std::string head = ReadHead(fd);
  const bool metrics = absl::StartsWith(head, "GET /metrics ") ||
                       absl::StartsWith(head, "GET /metrics?");
  const std::string body = metrics ? render() : "not found: try /metrics\n";
  WriteAll(fd,
           absl::StrCat("HTTP/1.1 ", metrics ? "200 OK" : "404 Not Found",
                        "\r\nContent-Type: ",
                        metrics ? "text/plain; version=0.0.4" : "text/plain",
                        "\r\nContent-Length: ", body.size(),
                        "\r\nConnection: close\r\n\r\n", body));
}

}  // namespace

absl::StatusOr<int> ServeMetricsEndpoint(const std::string& host, int port,
                                         std::function<std::string()> render) {
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  const std::string ip = host == "localhost" ? "127.0.0.1" : host;
  if (port < 0 || port > 65535 ||
      inet_pton(AF_INET, ip.c_str(), &address.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address ", host, ":", port,
                     ": expected an IPv4 address and a port from 0 to 65535"));
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  socklen_t size = sizeof(address);
  if (fd < 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(fd, 16) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    const std::string error = std::strerror(errno);
    if (fd >= 0) close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", host, ":", port, ": ", error));
  }
  std::thread([fd, render = std::move(render)] {
    while (true) {
      const int client = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        if (errno == EBADF || errno == EINVAL || errno == ENOTSOCK) return;
        // Out of descriptors or memory, or a client gone: try again.
        if (errno != EINTR && errno != ECONNABORTED) {
          absl::SleepFor(absl::Milliseconds(100));
        }
        continue;
      }
      Answer(client, render);
      close(client);
    }
  }).detach();
  return ntohs(address.sin_port);
}

}  // namespace paramd
