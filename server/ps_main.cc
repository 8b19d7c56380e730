// paramd-ps: holds one shard of every table and serves Pull and Push.
#include <atomic>
#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/rpc_util.h"
#include "server/ps_metrics.h"
#include "server/ps_node.h"
#include "server/ps_service.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7000",
          "Address (host:port) of the coordinator.");
ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int, port, 0, "Port to listen on; 0 lets the OS pick.");
ABSL_FLAG(std::string, port_file, "",
          "If set, write the bound port to this file once listening.");
ABSL_FLAG(std::string, advertise, "",
          "Address workers use to reach this server; default host:port.");
ABSL_FLAG(int, shard, -1, "Shard to hold; -1 takes the lowest free one.");
ABSL_FLAG(double, TEST_drop_replies, 0,
          "Tests only: answer this fraction of applied pushes UNAVAILABLE, "
          "as if the reply were lost.");

int main(int argc, char** argv) {
  paramd::CatchShutdownSignals();
  paramd::KeepLargeBuffersMapped();
  absl::ParseCommandLine(argc, argv);
  if (absl::Status secured = paramd::SecureRpc(paramd::RpcSecurityFromFlags());
      !secured.ok()) {
    paramd::LogError(secured.ToString());
    return 1;
  }
  paramd::SetLogTag("ps/?");
  paramd::PsService service;
  service.TEST_DropReplies(absl::GetFlag(FLAGS_TEST_drop_replies));
  paramd::AddPsCollector(&service);
  if (absl::Status serving = paramd::ServeMetricsFromFlags(); !serving.ok()) {
    paramd::LogError(serving.ToString());
    return 1;
  }
  int port = 0;
  auto server = paramd::StartServer(
      absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port), {&service}, &port);
  if (!server.ok()) {
    paramd::LogError(server.status().ToString());
    return 1;
  }
  // Not ready until it holds a shard and serves its generation.
  paramd::SetServing(server->get(), false);
  std::string advertise = absl::GetFlag(FLAGS_advertise);
  if (advertise.empty()) {
    advertise = absl::StrCat(absl::GetFlag(FLAGS_host), ":", port);
  }
  if (!absl::GetFlag(FLAGS_port_file).empty()) {
    absl::Status written =
        paramd::WritePortFile(absl::GetFlag(FLAGS_port_file), port);
    if (!written.ok()) {
      paramd::LogError(written.ToString());
      return 1;
    }
  }
  std::atomic<bool> stop{false};
  paramd::OnShutdownSignal(&stop, [] {});
  paramd::PsNode node(absl::GetFlag(FLAGS_coordinator), advertise,
                      absl::GetFlag(FLAGS_shard), &service);
  absl::Status started = node.Start(&stop);
  if (!started.ok() && !stop.load()) {
    paramd::LogError(absl::StrCat("cannot start: ", started.ToString()));
    return 1;
  }
  if (started.ok()) paramd::SetServing(server->get(), true);
  absl::Status ran = started.ok() ? node.RunHeartbeats(&stop) : started;
  paramd::RemoveMetricsCollectors();  // they read `node`'s shard
  paramd::SetServing(server->get(), false);
  paramd::LogInfo("shutting down: finishing requests in flight");
  node.Close();  // no pull waits for a round that will not close
  (*server)->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  if (absl::IsFailedPrecondition(ran)) {
    // Replaced by a newer server: its state is stale, so no checkpoint, and
    // exit 0 so a supervisor does not start it again.
    paramd::LogError(absl::StrCat("stopping: ", ran.message()));
    return 0;
  }
  if (absl::Status saved = node.SaveCheckpoint(); !saved.ok()) {
    paramd::LogError(
        absl::StrCat("shutdown checkpoint failed: ", saved.ToString()));
    return 1;
  }
  return 0;
}
