"""Channels to paramd's daemons: TLS and bearer tokens as the C++ daemons
take them, and the C++ worker's rule for which failures are retried."""

import dataclasses
import ipaddress
import random
import time

import grpc

# 256 MiB, as common/rpc_util.h: a pull of a large dense table is one reply.
MAX_MESSAGE_BYTES = 256 << 20

# Failures worth another try (common/grpc_status.cc, IsRetryable).
RETRYABLE = frozenset({
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
})


class RpcError(Exception):
    """A call that failed for good: its status code and message."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (code.name, message))
        self.code = code
        self.message = message


@dataclasses.dataclass
class Security:
    """What the daemons' --tls_ca, --tls_cert, --tls_key and --token_file
    flags say: trust `tls_ca`; present `tls_cert` and `tls_key` to servers
    that require a client certificate (mutual TLS); send the token in
    `token_file` as "authorization: Bearer <token>". Empty: plaintext, no
    token."""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    token_file: str = ""

    def metadata(self, address):
        """The metadata every call carries: the bearer token, if any."""
        if not self.token_file:
            return ()
        if not self.tls_ca and not _is_loopback(address):
            raise ValueError(
                "a token goes over plaintext only to loopback; give tls_ca "
                "to reach %s" % address)
        with open(self.token_file) as f:
            token = f.read().strip()
        if not token:
            raise ValueError("token file %s is empty" % self.token_file)
        return (("authorization", "Bearer " + token),)


def _is_loopback(address):
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def make_channel(address, security=None):
    """A channel to `address` ("host:port") that reconnects quickly after a
    peer restarts."""
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
        ("grpc.initial_reconnect_backoff_ms", 100),
    ]
    if security is None or not security.tls_ca:
        return grpc.insecure_channel(address, options=options)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(security.tls_ca),
        private_key=_read(security.tls_key) if security.tls_key else None,
        certificate_chain=_read(security.tls_cert)
        if security.tls_cert else None)
    return grpc.secure_channel(address, credentials, options=options)


def call_with_retries(call, budget_s, stopped=None):
    """Runs `call()` until it succeeds, fails with a code not in RETRYABLE,
    `budget_s` seconds pass, or `stopped()` says to give up; backs off from
    50 ms to 2 s with jitter between tries. Raises RpcError on failure."""
    give_up = time.monotonic() + budget_s
    backoff = 0.05
    while True:
        try:
            return call()
        except grpc.RpcError as error:
            code, message = error.code(), error.details() or ""
        if code not in RETRYABLE or (stopped is not None and stopped()):
            raise RpcError(code, message)
        pause = backoff * random.uniform(0.5, 1.0)
        if time.monotonic() + pause > give_up:
            raise RpcError(code, message)
        time.sleep(pause)
        backoff = min(backoff * 2, 2.0)
