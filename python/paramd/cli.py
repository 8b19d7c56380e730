"""The command line of a Python trainer: the flags paramd-worker takes for
reaching the cluster, and SIGTERM or SIGINT ending it as they end the C++
worker (the lease given back, the barrier left)."""

import argparse
import logging
import signal
import sys
import threading

from paramd.channel import RpcError, Security
from paramd.trainer import train


def main(make_model, description, argv=None, add_flags=None):
    """Parses --coordinator, --tls_ca, --tls_cert, --tls_key and
    --token_file (plus what `add_flags(parser)` adds) and trains
    `make_model(job, flags)` until the job ends. Returns the exit code."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--coordinator", required=True,
                        help="the coordinator's host:port")
    parser.add_argument("--tls_ca", default="",
                        help="PEM CA the daemons' certificates chain to")
    parser.add_argument("--tls_cert", default="",
                        help="PEM client certificate, for mutual TLS")
    parser.add_argument("--tls_key", default="",
                        help="PEM private key of --tls_cert")
    parser.add_argument("--token_file", default="",
                        help="file holding this worker's bearer token")
    if add_flags is not None:
        add_flags(parser)
    flags = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s python-trainer %(levelname)s %(message)s")
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    security = Security(flags.tls_ca, flags.tls_cert, flags.tls_key,
                        flags.token_file)
    try:
        train(lambda job: make_model(job, flags), flags.coordinator,
              security, stop)
    except (RpcError, ValueError, OSError) as error:
        if stop.is_set():
            return 0  # stopped while still registering: nothing to report
        logging.getLogger("paramd").error("%s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit("run a model's script (python/examples/), not this module")
