"""The trainer loop, as worker/trainer.cc runs it: lease a shard, train on
it minibatch by minibatch through the parameter servers, report it done,
repeat until the job ends. A model is three methods:

    read(path)           the examples of one shard file: a numpy array (or
                         a list) indexed by example. Raise ValueError for
                         bad data (or skip bad lines if job.skip_bad_lines):
                         the shard is reported failed and the worker goes
                         on. The file is checked against its folder's
                         paramd-manifest.json first, as C++ workers do.
    needs(batch)         what a batch reads: {table: None} for a whole dense
                         table, {table: keys} for rows of a sparse one.
    step(batch, params)  the batch's gradients of its MEAN loss and the SUM
                         of its losses: ({table: gradient}, loss_sum).
                         params holds numpy arrays shaped as the dense
                         tables and ps.Rows for the sparse ones; a sparse
                         gradient is Rows or a (keys, values) pair.

train(lambda job: MyModel(job), coordinator="host:port") runs it.
"""

import logging
import os
import socket
import threading
import time

import grpc
import numpy as np

from paramd.channel import RpcError, make_channel
from paramd.coordinator import ClusterView, CoordinatorClient
from paramd.job import Job
from paramd.manifest import check_against_manifest
from paramd.ps import PsClient
from paramd.shuffle import shard_order
from paramd.v1 import coordinator_pb2 as pb

log = logging.getLogger("paramd")

# How long to wait before asking again when every shard is leased.
_WAIT_POLL_S = 0.1
# Heartbeat intervals to wait for a restarted coordinator to know us again.
_COMPLETE_ATTEMPTS = 10
_UNREADABLE_BACKOFF_S = 1.0


class _LeaseLost(Exception):
    """The lease was revoked: a rollback, or it expired."""


def _loses_lease_only(code):
    """Failures that end a lease but not the worker: a new generation
    (ABORTED), unreachable servers, or a coordinator that forgot us for a
    moment (NOT_FOUND: it restarted)."""
    return code in (grpc.StatusCode.ABORTED, grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    grpc.StatusCode.NOT_FOUND,
                    grpc.StatusCode.FAILED_PRECONDITION)


def _take(data, order):
    if isinstance(data, np.ndarray):
        return data[order]
    return [data[i] for i in order]


class Trainer:
    """One trainer process's loop. `make_model(job)` builds the model from
    the job the coordinator hands out (paramd.job.Job). `stop`, a
    threading.Event, ends it: the lease is given back and the worker leaves
    the barrier."""

    def __init__(self, make_model, coordinator, security=None, stop=None,
                 rpc_timeout_s=30.0, retry_budget_s=120.0):
        self._make_model = make_model
        self._security = security
        self._stop = stop or threading.Event()
        self._timeout = rpc_timeout_s
        self._budget = retry_budget_s
        self._address = coordinator
        self._coordinator = CoordinatorClient(coordinator, self._stop,
                                              security)
        self._host = "%s:%d" % (socket.gethostname(), os.getpid())
        self._lock = threading.Lock()
        self._examples = 0
        self._loss_sum = 0.0
        self._clock = 0
        self._ps = None
        self._in_barrier = False
        self._channels = {}  # server address -> channel, across leases
        self.job = None
        self.view = None

    def progress(self):
        """Examples trained and their summed loss so far."""
        with self._lock:
            return self._examples, self._loss_sum

    def run(self):
        """Registers and trains until the job is done (or failed, or
        `stop`). Raises RpcError on a permanent RPC error."""
        registration = self._coordinator.register(self._host, "trainer")
        self.job = Job.parse(registration.config_yaml)
        model = self._make_model(self.job)
        self.view = ClusterView(registration.worker_id,
                                registration.servers)
        log.info("registered as trainer %d", self.view.worker_id)
        # The heartbeats' own client and stop: they outlive the loop by one
        # last beat, and a re-registration they started ends with them.
        beats_stop = threading.Event()
        beats_client = CoordinatorClient(self._address, beats_stop,
                                         self._security)
        beats = threading.Thread(
            target=beats_client.run_heartbeats, daemon=True,
            args=(self.view, self.job.heartbeat_interval_s, self.progress,
                  self._host, "trainer", beats_stop))
        beats.start()
        try:
            self._loop(model)
        finally:
            beats_stop.set()
            beats.join()

    def _loop(self, model):
        me = self.view.worker_id
        while not self._stop.is_set():
            try:
                grant = self._coordinator.acquire(me)
            except RpcError as error:
                if error.code != grpc.StatusCode.NOT_FOUND:
                    raise
                time.sleep(self.job.heartbeat_interval_s)  # re-registering
                continue
            if grant.state == pb.AcquireShardResponse.LEASED:
                self._train_shard(model, grant)
                continue
            self._leave_barrier()  # no shard now: let the others go on
            if grant.state == pb.AcquireShardResponse.DONE:
                log.info("job done")
                return
            if grant.state == pb.AcquireShardResponse.FAILED:
                log.error("the job failed: %s", grant.failure)
                return
            time.sleep(_WAIT_POLL_S)
        self._leave_barrier()

    def _channel(self, address):
        if address not in self._channels:
            self._channels[address] = make_channel(address, self._security)
        return self._channels[address]

    def _leave_barrier(self):
        if not self._in_barrier or self._ps is None:
            return
        self._in_barrier = False
        try:
            self._ps.leave(self._clock)
        except RpcError as error:
            log.warning("leaving the barrier: %s", error)

    def _train_shard(self, model, grant):
        lease = grant.lease
        granted = time.monotonic()
        me = self.view.worker_id
        log.info("epoch %d: training shard %d (%s)", lease.epoch + 1,
                 lease.shard, lease.path)
        self.view.held = lease  # heartbeats renew it while the shard is read
        try:
            check_against_manifest(lease.path)
            data = model.read(lease.path)
        except (OSError, ValueError, OverflowError) as error:
            self.view.held = None
            self._fail_shard(lease, error)
            return
        order = np.arange(len(data))
        if self.job.shuffle:  # the same order whichever worker trains it
            order = shard_order(lease.epoch, lease.shard, len(data))
        revoked = lambda: self.view.revoked(lease, granted)
        self._ps = PsClient(
            self.job, list(grant.servers), me, lease.generation,
            self._security, self._timeout, self._budget,
            cancelled=lambda: self._stop.is_set() or revoked(),
            channel_for=self._channel)
        examples, loss_sum = 0, 0.0
        error = None
        stopped = False  # mid-shard: what was pushed stays, the rest waits
        try:
            for begin in range(0, len(order), self.job.batch_size):
                if self._stop.is_set():
                    stopped = True
                    break
                if revoked():
                    raise _LeaseLost()
                batch = _take(data, order[begin:begin + self.job.batch_size])
                loss_sum += self._train_batch(model, batch, revoked)
                examples += len(batch)
        except _LeaseLost:
            error = RpcError(grpc.StatusCode.ABORTED, "the lease was revoked")
        except RpcError as failure:
            error = failure
        if error is None and not stopped:
            # Trained whole, even if stopping now: completed, not released,
            # so no other worker applies it again.
            error = self._complete(lease, granted, examples, loss_sum)
        self.view.held = None
        if error is None and not stopped:
            return
        if error is None:
            self._release(lease)
            return
        if not _loses_lease_only(error.code):
            raise error
        log.warning("shard %d of epoch %d dropped: %s", lease.shard,
                    lease.epoch + 1, error.message)
        if not self.view.revoked(lease, granted):
            self._release(lease)
        # The clock stays: pushes are deduplicated by it (asp), and the
        # servers re-sync it on the next pull (bsp, ssp).
        self._leave_barrier()

    def _train_batch(self, model, batch, revoked):
        needs = model.needs(batch)
        dense = [name for name, keys in needs.items() if keys is None]
        sparse = {name: keys for name, keys in needs.items()
                  if keys is not None}
        self._clock, params = self._ps.pull(self._clock, dense, sparse)
        self._in_barrier = True
        grads, loss_sum = model.step(batch, params)
        # A lease revoked while computing must not add this shard's
        # gradients a second time.
        if revoked():
            raise _LeaseLost()
        self._clock = self._ps.push(self._clock, grads)
        with self._lock:
            self._examples += len(batch)
            self._loss_sum += float(loss_sum)
        return float(loss_sum)

    def _complete(self, lease, granted, examples, loss_sum):
        """Reports the trained shard; keeps asking while the coordinator has
        not heard from us again after a restart (NOT_FOUND) or cannot save
        it (UNAVAILABLE): the shard is trained, not to be trained again."""
        attempt = 0
        while True:
            attempt += 1
            try:
                self._coordinator.complete(self.view.worker_id,
                                           lease.lease_id, examples,
                                           loss_sum, self._clock)
                return None
            except RpcError as error:
                again = (
                    (error.code == grpc.StatusCode.NOT_FOUND and
                     attempt < _COMPLETE_ATTEMPTS) or
                    (error.code == grpc.StatusCode.UNAVAILABLE and
                     not self._stop.is_set() and
                     not self.view.revoked(lease, granted)))
                if not again:
                    return error
            time.sleep(self.job.heartbeat_interval_s)

    def _release(self, lease):
        try:
            self._coordinator.release(self.view.worker_id, lease.lease_id)
        except RpcError as error:
            log.warning("releasing shard %d: %s", lease.shard, error)

    def _fail_shard(self, lease, error):
        """Bad data is the data's fault, not the worker's: report it and go
        on. A file that cannot be opened may be this host's fault (a missing
        mount): the coordinator lets another worker try it first."""
        log.error("shard %d of epoch %d cannot be read: %s", lease.shard,
                  lease.epoch + 1, error)
        unreadable = isinstance(error, OSError)
        try:
            self._coordinator.fail_shard(self.view.worker_id, lease.lease_id,
                                         "%s: %s" % (lease.path, error),
                                         unreadable)
        except RpcError as failure:
            log.warning("could not report the bad shard: %s", failure)
        if unreadable:
            time.sleep(_UNREADABLE_BACKOFF_S)


def train(make_model, coordinator, security=None, stop=None, **options):
    """Trains `make_model(job)` as one trainer of the job the coordinator at
    `coordinator` runs, until the job ends. See Trainer."""
    Trainer(make_model, coordinator, security, stop, **options).run()
