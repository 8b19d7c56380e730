"""The worker's view of the parameter servers: one logical pull and push,
split by the shard map and sent to every shard at once, as
worker/ps_client.cc does it."""

import dataclasses
import time

import grpc
import numpy as np

from paramd.channel import RETRYABLE, RpcError, make_channel
from paramd.sharding import dense_range, jump_hash
from paramd.v1 import ps_pb2, ps_pb2_grpc

_FLOAT = np.dtype("<f4")
_KEY = np.dtype("<u8")


@dataclasses.dataclass
class Rows:
    """Rows of a sparse table: `keys` (uint64, ascending and unique) and
    their `values`, float32 [len(keys), width]."""
    keys: np.ndarray
    values: np.ndarray

    def positions(self, keys):
        """The row index of each of `keys`, which must all be present."""
        at = np.searchsorted(self.keys, np.asarray(keys, dtype=np.uint64))
        if at.size and (at.max() >= self.keys.size or
                        not np.array_equal(self.keys[at], keys)):
            raise KeyError("a key was not pulled")
        return at


class PsClient:
    """Pulls and pushes for one worker in one cluster generation. `servers`
    are indexed by shard. Each call gets `rpc_timeout_s`; failures in
    channel.RETRYABLE are retried per shard with backoff for up to
    `retry_budget_s`, or until `cancelled()` says to give up.
    `channel_for(address)` gives the channel to a server (default: a new
    one)."""

    def __init__(self, job, servers, worker_id, generation, security=None,
                 rpc_timeout_s=30.0, retry_budget_s=120.0, cancelled=None,
                 channel_for=None):
        self._job = job
        self._n = len(servers)
        self._worker_id = worker_id
        self._generation = generation
        self._timeout = rpc_timeout_s
        self._budget = retry_budget_s
        self._cancelled = cancelled or (lambda: False)
        self._stubs = []
        self._metadata = []
        channel_for = channel_for or (
            lambda address: make_channel(address, security))
        for address in servers:
            self._stubs.append(
                ps_pb2_grpc.ParameterServerStub(channel_for(address)))
            self._metadata.append(
                security.metadata(address) if security else ())

    @property
    def num_shards(self):
        return self._n

    def _fan_out(self, shards, start):
        """Runs `start(shard)` (which returns a call future) for each of
        `shards` at once and retries the shards that failed transiently,
        until each has answered for good or the budget runs out. Returns
        (error, errors, responses): the first permanent error, else the last
        transient one, else None; each shard's last error (or None); and each
        shard's response."""
        pending = list(shards)
        errors, responses = {}, {}
        permanent = None
        give_up = time.monotonic() + self._budget
        backoff = 0.05
        while True:
            futures = [(s, start(s)) for s in pending]
            retry, last = [], None
            for shard, future in futures:
                try:
                    responses[shard] = future.result()
                    errors[shard] = None
                    continue
                except grpc.RpcError as failure:
                    error = RpcError(failure.code(), "shard %d: %s" %
                                     (shard, failure.details() or ""))
                errors[shard] = error
                if error.code in RETRYABLE:
                    retry.append(shard)
                    last = error
                elif permanent is None:
                    permanent = error
            if not retry:
                return permanent, errors, responses
            if time.monotonic() + backoff > give_up or self._cancelled():
                return permanent or last, errors, responses
            time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
            pending = retry

    def _pull_requests(self, dense, keys_by_shard):
        requests = []
        for s in range(self._n):
            request = ps_pb2.PullRequest(worker_id=self._worker_id,
                                         generation=self._generation)
            for name in dense:
                begin, end = dense_range(self._job.tables[name].size, s,
                                         self._n)
                if end > begin:
                    request.slices.add(table=name, offset=begin,
                                       length=end - begin)
            for name, (keys, shard_of) in keys_by_shard.items():
                mine = keys[shard_of == s]
                if mine.size:
                    request.slices.add(table=name,
                                       keys=mine.astype(_KEY).tobytes())
            requests.append(request)
        return requests

    def pull(self, clock, dense=(), sparse=None):
        """Reads the dense tables named in `dense` whole and the rows of
        `sparse` ({table: keys}) at `clock`. Returns (clock, params): the
        clock it read at (under bsp and ssp, the servers' version if they
        have moved past `clock`) and {table: array shaped as the table, or
        Rows}. A negative clock reads at once."""
        keys_by_shard = {}
        for name, keys in (sparse or {}).items():
            unique = np.unique(np.asarray(keys, dtype=np.uint64))
            keys_by_shard[name] = (unique, jump_hash(unique, self._n))
        requests = self._pull_requests(list(dense), keys_by_shard)
        while True:
            for request in requests:
                request.clock = clock
            error, _, responses = self._fan_out(
                range(self._n), lambda s: self._stubs[s].Pull.future(
                    requests[s], timeout=self._timeout,
                    metadata=self._metadata[s]))
            if error is not None:
                raise error
            behind = [r.version for r in responses.values() if r.behind]
            if not behind:
                break
            clock = max(behind)
        params = {}
        for name in dense:
            params[name] = np.empty(self._job.tables[name].size, np.float32)
        for name, (keys, _) in keys_by_shard.items():
            params[name] = Rows(keys, np.empty(
                (keys.size, self._job.tables[name].width), np.float32))
        for s in range(self._n):
            for piece in responses[s].slices:
                self._copy_slice(piece, s, keys_by_shard, params)
        for name in dense:
            params[name] = params[name].reshape(self._job.tables[name].shape)
        return clock, params

    def _copy_slice(self, piece, shard, keys_by_shard, params):
        target = params.get(piece.table)
        values = np.frombuffer(piece.values, dtype=_FLOAT) if len(
            piece.values) % 4 == 0 else None
        if isinstance(target, Rows):
            at = np.nonzero(keys_by_shard[piece.table][1] == shard)[0]
            width = target.values.shape[1]
            if values is None or values.size != at.size * width:
                raise RpcError(grpc.StatusCode.DATA_LOSS,
                               "pulled sparse slice has the wrong size")
            target.values[at] = values.reshape(-1, width)
        elif target is not None:
            if (values is None or values.size != piece.length or
                    piece.offset + piece.length > target.size):
                raise RpcError(grpc.StatusCode.DATA_LOSS,
                               "pulled dense slice has the wrong size")
            target[piece.offset:piece.offset + piece.length] = values
        else:
            raise RpcError(grpc.StatusCode.DATA_LOSS,
                           "a pulled slice of table '%s' was not asked for" %
                           piece.table)

    def push(self, clock, grads):
        """Sends `grads` ({table: array of the table's size, or Rows or a
        (keys, values) pair}) computed at `clock`; every shard gets a push,
        empty or not, so bsp rounds close. Returns the clock to use next. A
        shard that refused the step as not due while others took it gets it
        again at the clock it expects. Raises RpcError FAILED_PRECONDITION if
        every shard refused it (nothing was applied)."""
        requests = [ps_pb2.PushRequest(worker_id=self._worker_id,
                                       generation=self._generation,
                                       clock=clock) for _ in range(self._n)]
        for name, grad in grads.items():
            table = self._job.tables[name]
            if table.sparse:
                keys, values = ((grad.keys, grad.values)
                                if isinstance(grad, Rows) else grad)
                keys = np.asarray(keys, dtype=_KEY)
                values = np.asarray(values, dtype=_FLOAT).reshape(
                    keys.size, table.width)
                shard_of = jump_hash(keys, self._n)
                for s in range(self._n):
                    mine = shard_of == s
                    if mine.any():
                        requests[s].slices.add(
                            table=name, keys=keys[mine].tobytes(),
                            values=values[mine].tobytes())
                continue
            flat = np.asarray(grad, dtype=_FLOAT).reshape(-1)
            if flat.size != table.size:
                raise ValueError("gradient of %s has %d elements, not %d" %
                                 (name, flat.size, table.size))
            for s in range(self._n):
                begin, end = dense_range(table.size, s, self._n)
                if end > begin:
                    requests[s].slices.add(table=name, offset=begin,
                                           length=end - begin,
                                           values=flat[begin:end].tobytes())
        error, errors, responses = self._fan_out(
            range(self._n), lambda s: self._stubs[s].Push.future(
                requests[s], timeout=self._timeout,
                metadata=self._metadata[s]))
        refused = [s for s, e in errors.items()
                   if e is not None and
                   e.code == grpc.StatusCode.FAILED_PRECONDITION]
        taken = sum(1 for e in errors.values() if e is None)
        others = len(errors) - taken - len(refused)
        if refused and taken and not others:
            error = None
            for s in refused:
                responses[s] = self._push_again(s, requests[s])
        if error is not None:
            raise error
        return max([clock + 1] + [r.next_clock for r in responses.values()])

    def _push_again(self, shard, request):
        """Rejoins the barrier of `shard`, which refused `request` as not
        due, at the version it is at, and pushes `request` again there."""
        join = ps_pb2.PullRequest(worker_id=self._worker_id,
                                  generation=self._generation)
        clock = request.clock
        last = None
        for _ in range(4):
            join.clock = clock
            error, _, joined = self._fan_out([shard], lambda s: self._stubs[
                s].Pull.future(join, timeout=self._timeout,
                               metadata=self._metadata[s]))
            if error is not None:
                raise error
            if joined[shard].behind:
                clock = joined[shard].version
                continue
            request.clock = clock
            last, _, pushed = self._fan_out([shard], lambda s: self._stubs[
                s].Push.future(request, timeout=self._timeout,
                               metadata=self._metadata[s]))
            if last is None:
                return pushed[shard]
            if last.code != grpc.StatusCode.FAILED_PRECONDITION:
                raise last
        raise last or RpcError(grpc.StatusCode.FAILED_PRECONDITION,
                               "shard %d: could not rejoin its barrier" %
                               shard)

    def leave(self, clock):
        """Leaves the bsp barrier on every shard (no data right now)."""
        request = ps_pb2.PushRequest(worker_id=self._worker_id,
                                     generation=self._generation,
                                     clock=clock, leave=True)
        error, _, _ = self._fan_out(
            range(self._n), lambda s: self._stubs[s].Push.future(
                request, timeout=self._timeout, metadata=self._metadata[s]))
        if error is not None:
            raise error
