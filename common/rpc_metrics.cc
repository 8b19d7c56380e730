#include "common/rpc_metrics.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/metrics.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message_lite.h"

namespace paramd {
namespace {

using ::grpc::experimental::InterceptionHookPoints;

struct RpcFamilies {
  prometheus::Family<prometheus::Counter>& handled =
      prometheus::BuildCounter()
          .Name("paramd_rpc_server_handled_total")
          .Help("RPCs completed by this daemon, by method and status code.")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Histogram>& seconds =
      prometheus::BuildHistogram()
          .Name("paramd_rpc_server_handling_seconds")
          .Help(
              "Time from an RPC's arrival to its status, by method and "
              "status code.")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Counter>& received =
      prometheus::BuildCounter()
          .Name("paramd_rpc_server_received_bytes_total")
          .Help("Request message bytes received, by method.")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Counter>& sent =
      prometheus::BuildCounter()
          .Name("paramd_rpc_server_sent_bytes_total")
          .Help("Response message bytes sent, by method.")
          .Register(MetricsRegistry());
};

RpcFamilies& Families() {
  static auto* families = new RpcFamilies;
  return *families;
}

// `path` ("/package.Service/Method") if this binary links that method's
// service, else "unknown": clients choose the path, and it must not let
// them add series without bound.
std::string KnownMethod(const char* path) {
  absl::string_view method(path == nullptr ? "" : path);
  if (!absl::ConsumePrefix(&method, "/")) return "unknown";
  const size_t slash = method.rfind('/');
  if (slash == absl::string_view::npos) return "unknown";
  const std::string full_name =
      absl::StrCat(method.substr(0, slash), ".", method.substr(slash + 1));
  if (google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          full_name) == nullptr) {
    return "unknown";
  }
  return path;
}

size_t MessageBytes(const void* message) {
  if (message == nullptr) return 0;
  return static_cast<const google::protobuf::MessageLite*>(message)
      ->ByteSizeLong();
}

class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit RpcMetricsInterceptor(grpc::experimental::ServerRpcInfo* info)
      : method_(KnownMethod(info->method())),
        protobuf_(absl::StartsWith(method_, "/paramd.")),
        start_(absl::Now()) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE)) {
      if (protobuf_) received_ += MessageBytes(methods->GetRecvMessage());
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      if (protobuf_) sent_ += MessageBytes(methods->GetSendMessage());
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    RpcFamilies& families = Families();
    const std::string code_name(
        absl::StatusCodeToString(static_cast<absl::StatusCode>(code)));
    families.handled.Add({{"method", method_}, {"code", code_name}})
        .Increment();
    families.seconds
        .Add({{"method", method_}, {"code", code_name}}, SecondsBuckets())
        .Observe(absl::ToDoubleSeconds(absl::Now() - start_));
    families.received.Add({{"method", method_}})
        .Increment(static_cast<double>(received_));
    families.sent.Add({{"method", method_}})
        .Increment(static_cast<double>(sent_));
  }

  const std::string method_;
  // paramd's own services pass protobuf messages to interceptors; gRPC's
  // default health service passes raw buffers, so its bytes go uncounted.
  const bool protobuf_;
  const absl::Time start_;
  size_t received_ = 0;
  size_t sent_ = 0;
};

class RpcMetricsFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(info);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetricsInterceptors() {
  return std::make_unique<RpcMetricsFactory>();
}

}  // namespace paramd
