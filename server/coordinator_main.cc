// paramd-coordinator: reads the cluster YAML, hands out data shards and
// tracks the job.
#include <atomic>
#include <filesystem>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/rpc_util.h"
#include "common/status_macros.h"
#include "common/yaml_edit.h"
#include "server/coordinator.h"
#include "server/coordinator_metrics.h"
#include "server/coordinator_service.h"

ABSL_FLAG(std::string, config, "", "Path to the cluster YAML.");
ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int, port, 7000, "Port to listen on; 0 lets the OS pick.");
ABSL_FLAG(double, TEST_drop_replies, 0,
          "Tests only: answer this fraction of the worker calls that change "
          "state UNAVAILABLE after carrying them out, as if the reply were "
          "lost.");
ABSL_FLAG(std::string, checkpoint_dir, "",
          "If set, checkpoints go to this folder instead of the YAML's "
          "checkpoint.dir; every 60 s if the YAML sets no period.");
ABSL_FLAG(std::string, port_file, "",
          "If set, write the bound port to this file once listening.");

namespace {

int Fail(const absl::Status& status) {
  paramd::LogError(status.ToString());
  return 1;
}

// The YAML at `path`, with --checkpoint_dir put in, and the job it holds.
absl::Status LoadJob(const std::string& path, std::string* text,
                     paramd::JobConfig* job) {
  PARAMD_ASSIGN_OR_RETURN(*job, paramd::LoadJobConfig(path, text));
  const std::string dir = absl::GetFlag(FLAGS_checkpoint_dir);
  if (dir.empty()) return absl::OkStatus();
  std::error_code error;
  PARAMD_ASSIGN_OR_RETURN(
      *text,
      paramd::SetYamlScalar(
          *text, path, {"checkpoint", "dir"},
          std::filesystem::absolute(dir, error).lexically_normal().string()));
  if (job->checkpoint.every_s == 0 && job->checkpoint.every_steps == 0) {
    PARAMD_ASSIGN_OR_RETURN(
        *text,
        paramd::SetYamlScalar(*text, path, {"checkpoint", "every_s"}, "60"));
  }
  PARAMD_ASSIGN_OR_RETURN(*job,
                          paramd::ParseJobConfig(*text, path, job->base_dir));
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  paramd::CatchShutdownSignals();
  absl::ParseCommandLine(argc, argv);
  paramd::SetLogTag("coordinator");
  const std::string path = absl::GetFlag(FLAGS_config);
  if (path.empty())
    return Fail(absl::InvalidArgumentError("--config is required"));
  std::string text;
  paramd::JobConfig job;
  if (absl::Status read = LoadJob(path, &text, &job); !read.ok()) {
    return Fail(read);
  }
  // The YAML's security section, with each flag given taking its place.
  paramd::RpcSecurity security =
      job.security.For(paramd::Role::kAdmin, /*accepts=*/true);
  security.token_file.clear();  // the coordinator calls no one
  const paramd::RpcSecurity flags = paramd::RpcSecurityFromFlags();
  for (auto field :
       {&paramd::RpcSecurity::tls_cert, &paramd::RpcSecurity::tls_key,
        &paramd::RpcSecurity::tls_ca, &paramd::RpcSecurity::tokens_file}) {
    if (!(flags.*field).empty()) security.*field = flags.*field;
  }
  security.mutual_tls = security.mutual_tls || flags.mutual_tls;
  security.insecure = flags.insecure;
  if (absl::Status secured = paramd::SecureRpc(security); !secured.ok()) {
    return Fail(secured);
  }
  auto shards = paramd::ListTrainShards(job);
  if (!shards.ok()) return Fail(shards.status());
  paramd::Coordinator coordinator(job, text, *shards);
  coordinator.Restore();
  paramd::CoordinatorService service(&coordinator);
  paramd::AddCoordinatorCollector(&coordinator);
  if (absl::Status serving = paramd::ServeMetricsFromFlags(); !serving.ok()) {
    return Fail(serving);
  }
  service.TEST_DropReplies(absl::GetFlag(FLAGS_TEST_drop_replies));
  int port = 0;
  auto server = paramd::StartServer(
      absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port), {&service}, &port);
  if (!server.ok()) return Fail(server.status());
  if (!absl::GetFlag(FLAGS_port_file).empty()) {
    absl::Status written =
        paramd::WritePortFile(absl::GetFlag(FLAGS_port_file), port);
    if (!written.ok()) return Fail(written);
  }
  paramd::LogInfo(absl::StrCat("job '", job.name, "': ", shards->size(),
                               " shards, ", job.epochs, " epochs, ",
                               job.num_servers, " servers; listening on ",
                               absl::GetFlag(FLAGS_host), ":", port));
  std::atomic<bool> stop{false};
  paramd::OnShutdownSignal(&stop, [] {});
  while (!stop.load()) {
    absl::SleepFor(absl::Milliseconds(200));
    coordinator.Tick();
  }
  paramd::SetServing(server->get(), false);
  paramd::RemoveMetricsCollectors();  // they read `coordinator`
  paramd::LogInfo("shutting down");
  (*server)->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  return 0;
}
