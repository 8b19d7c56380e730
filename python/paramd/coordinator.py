"""The worker's side of the coordinator protocol, as
worker/coordinator_client.cc and worker/cluster_view.cc speak it:
registration, leases, completions and the heartbeats that keep a worker
alive and tell it where the servers are."""

import logging
import random
import threading
import time

import grpc

from paramd.channel import RETRYABLE, RpcError, call_with_retries, make_channel
from paramd.v1 import coordinator_pb2 as pb
from paramd.v1 import coordinator_pb2_grpc

log = logging.getLogger("paramd")

_RPC_TIMEOUT_S = 5.0
_RETRY_BUDGET_S = 60.0
# Registration waits for the cluster as long as it takes, saying so this
# often.
_REGISTER_BUDGET_S = 10.0


class ClusterView:
    """What the worker knows of the cluster between calls, as its heartbeats
    last heard: the generation, the servers and the leases it holds; plus
    the lease it is training. Thread-safe."""

    def __init__(self, worker_id, servers):
        self.worker_id = worker_id
        self._lock = threading.Lock()
        self._generation = 0
        self._servers = list(servers)
        self._leases = set()
        self._heard = float("-inf")
        self._held = None

    def update(self, sent, response):
        """Takes in a heartbeat reply to a request sent at `sent`."""
        with self._lock:
            self._generation = max(self._generation, response.generation)
            if response.servers:
                self._servers = list(response.servers)
            self._leases = set(response.leases)
            self._heard = max(self._heard, sent)

    def revoked(self, lease, granted):
        """True if `lease`, granted at `granted`, is gone: the cluster moved
        to a newer generation, or a heartbeat sent after the grant did not
        list it."""
        with self._lock:
            if self._generation > lease.generation:
                return True
            return self._heard > granted and lease.lease_id not in self._leases

    @property
    def servers(self):
        with self._lock:
            return list(self._servers)

    @property
    def held(self):
        with self._lock:
            return self._held

    @held.setter
    def held(self, lease):
        with self._lock:
            self._held = lease


class CoordinatorClient:
    """Calls to the coordinator at `address`, each retried for a minute
    while it fails transiently (or until `stop` is set)."""

    def __init__(self, address, stop, security=None):
        self._stub = coordinator_pb2_grpc.CoordinatorStub(
            make_channel(address, security))
        self._metadata = security.metadata(address) if security else ()
        self._stop = stop
        self._acquire_calls = 0

    def _call(self, method, request, budget_s=_RETRY_BUDGET_S):
        return call_with_retries(
            lambda: method(request, timeout=_RPC_TIMEOUT_S,
                           metadata=self._metadata),
            budget_s, self._stop.is_set)

    def register(self, host, role, old_id=0, held=None):
        """Registers (again, with `old_id` and the lease `held`, after the
        coordinator forgot the worker); waits while it is unreachable."""
        request = pb.RegisterWorkerRequest(
            host=host, role=role, worker_id=old_id,
            # The same on every retry: a lost reply does not cost a second id.
            request_id=random.randint(1, 2**64 - 1))
        if held is not None:
            request.held.CopyFrom(held)
        while True:
            try:
                return self._call(self._stub.RegisterWorker, request,
                                  _REGISTER_BUDGET_S)
            except RpcError as error:
                if error.code not in RETRYABLE or self._stop.is_set():
                    raise
                log.warning("cannot register yet (%s); trying again", error)

    def acquire(self, worker_id):
        self._acquire_calls += 1
        return self._call(self._stub.AcquireShard, pb.AcquireShardRequest(
            worker_id=worker_id, request_id=self._acquire_calls))

    def complete(self, worker_id, lease_id, examples, loss_sum, clock):
        self._call(self._stub.CompleteShard, pb.CompleteShardRequest(
            worker_id=worker_id, lease_id=lease_id, examples=examples,
            loss_sum=loss_sum, clock=clock))

    def release(self, worker_id, lease_id):
        self._call(self._stub.ReleaseShard, pb.ReleaseShardRequest(
            worker_id=worker_id, lease_id=lease_id))

    def fail_shard(self, worker_id, lease_id, error, unreadable):
        self._call(self._stub.FailShard, pb.FailShardRequest(
            worker_id=worker_id, lease_id=lease_id, error=error,
            unreadable=unreadable))

    def run_heartbeats(self, view, interval_s, progress, host, role, stop):
        """Beats every `interval_s` until `stop` is set, and once more after
        with the final progress (`progress()` gives cumulative examples and
        loss sum). Registers again if the coordinator forgot the worker."""
        failing = False
        last = False
        while not last:
            last = stop.is_set()
            examples, loss_sum = progress()
            request = pb.HeartbeatRequest(worker_id=view.worker_id,
                                          examples=examples,
                                          loss_sum=loss_sum)
            held = view.held
            if held is not None:
                request.held_leases.append(held.lease_id)
            sent = time.monotonic()
            try:
                response = self._stub.Heartbeat(
                    request, timeout=_RPC_TIMEOUT_S, metadata=self._metadata)
                view.update(sent, response)
                failing = False
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND and not last:
                    log.warning("the coordinator forgot this worker: "
                                "registering again")
                    try:
                        self.register(host, role, view.worker_id, held)
                    except RpcError as again:
                        log.warning("%s", again)
                elif not failing:
                    log.warning("heartbeat failed: %s", error.details())
                failing = True
            if not last:
                stop.wait(interval_s)
