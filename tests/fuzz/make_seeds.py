#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/testdata/fuzz/.

Proto seeds are written as text format and encoded with `protoc --encode`
against proto/, so they follow the .proto files. Re-run after changing a
message or a fuzz target's input format:  python3 tests/fuzz/make_seeds.py
Regressions (tests/testdata/fuzz/*/regressions/) are left alone.
"""
import os
import random
import shutil
import struct
import subprocess
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "testdata", "fuzz")


def jump_hash(key, num_shards):
    """common/shard_map.cc JumpHash."""
    b, j = -1, 0
    while j < num_shards:
        b = j
        key = (key * 2862933555777941757 + 1) & (2**64 - 1)
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def keys_of(shard, num_shards, count, start=1):
    keys, key = [], start
    while len(keys) < count:
        if jump_hash(key, num_shards) == shard:
            keys.append(key)
        key += 1
    return keys


def text_bytes(data):
    return '"' + "".join("\\%03o" % b for b in data) + '"'


def floats(values):
    return struct.pack("<%df" % len(values), *values)


def packed_keys(keys):
    return struct.pack("<%dQ" % len(keys), *keys)


def encode(message, text):
    return subprocess.run(
        ["protoc", "--encode=paramd.v1." + message, "-I", os.path.join(ROOT, "proto"),
         "paramd/v1/ps.proto", "paramd/v1/checkpoint.proto"],
        input=text.encode(), stdout=subprocess.PIPE, check=True).stdout


def slice_text(table, keys=None, offset=None, length=None, values=None):
    parts = ['table: "%s"' % table]
    if keys:
        parts.append("keys: " + text_bytes(packed_keys(keys)))
    if offset is not None:
        parts.append("offset: %d" % offset)
    if length is not None:
        parts.append("length: %d" % length)
    if values is not None:
        parts.append("values: " + text_bytes(floats(values)))
    return "slices { %s }" % " ".join(parts)


def write(target, name, data):
    folder = os.path.join(OUT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def config_seeds():
    for name in sorted(os.listdir(os.path.join(ROOT, "config"))):
        with open(os.path.join(ROOT, "config", name), "rb") as f:
            write("config", name, f.read())
    write("config", "tiny.yaml", """job:
  name: tiny
  consistency: ssp
  staleness: 2
  epochs: 2
  batch_size: 8
cluster: {num_servers: 2, num_workers: 3}
data: {train: shards/train-*.txt, eval: eval.txt}
model: {type: logreg}
optimizer: {kind: adagrad, learning_rate: 0.5}
checkpoint: {dir: ckpt, every_steps: 10, keep: 2}
tables:
  - {name: w, type: sparse, width: 4, init: {kind: normal, scale: 0.1}}
  - name: b
    type: dense
    shape: [2, 3]
    init: {kind: uniform, scale: 0.1, seed: 7}
    optimizer: {kind: adam, weight_decay: 0.01}
""")


def data_seeds():
    write("logreg_data", "basic.svm",
          "1 3:0.5 17:1\n0 2:1.5\n# comment\n\n-1 5:2 9:-1e3\n+1 1:1 1:2\n")
    write("logreg_data", "tabs.svm", "1\t0:1\t18446744073709551615:0.25\r\n0\n")
    write("nplm_data", "basic.ids", "0 1 2 3 4 5\n6 7 8\n39 3 12\n")
    write("nplm_data", "spaces.ids", "  5\t\t9\r\n\n\f17 17 17\v2\n")


def checkpoint_seeds():
    # Shard 1 of 2 of tests/fuzz/checkpoint_fuzz.cc's job: "d" has 11
    # elements (shard 1 holds [6, 11)) and adam's 2 slots; "e" is width 3
    # with momentum's 1 slot.
    keys = keys_of(1, 2, 2)
    text = """job: "checkpoint-fuzz" shard: 1 num_shards: 2 version: 5
tables { name: "d" slots: 2 offset: 6 values: %s state: %s steps: 3 }
tables { name: "e" slots: 1 keys: %s values: %s row_steps: 1 row_steps: 4 }
""" % (text_bytes(floats([0.5, -1, 2, 0, 0.25])), text_bytes(floats([0.1] * 10)),
       text_bytes(packed_keys(keys)), text_bytes(floats([1, 2, 3, 0, 0, 0] * 2)))
    payload = encode("ShardCheckpoint", text)
    header = b"PARAMDCK" + struct.pack("<IIQ", 1, zlib.crc32(payload), len(payload))
    write("checkpoint", "payload", b"\x01" + payload)
    write("checkpoint", "file", b"\x00" + header + payload)
    empty = encode("ShardCheckpoint",
                   'job: "checkpoint-fuzz" shard: 1 num_shards: 2 '
                   'tables { name: "d" slots: 2 offset: 6 values: %s state: %s } '
                   'tables { name: "e" slots: 1 }' %
                   (text_bytes(floats([0] * 5)), text_bytes(floats([0] * 10))))
    write("checkpoint", "no_rows", b"\x01" + empty)


def record(op, payload):
    return bytes([op]) + struct.pack("<H", len(payload)) + payload


def pull(worker, clock, slices):
    return record(0, encode("PullRequest", "worker_id: %d clock: %d %s" %
                            (worker, clock, " ".join(slices))))


def push(worker, clock, slices, leave=False):
    return record(1, encode("PushRequest", "worker_id: %d clock: %d %s %s" % (
        worker, clock, " ".join(slices), "leave: true" if leave else "")))


def ps_request_seeds():
    # Shard 0 of 2 of tests/fuzz/ps_request_fuzz.cc's job: "d" is 3 x 4
    # (shard 0 holds [0, 6)), "e" is sparse of width 3.
    k = keys_of(0, 2, 3)
    other = keys_of(1, 2, 1)[0]
    d_read = slice_text("d", offset=0, length=6)
    e_read = slice_text("e", keys=k[:2])
    d_grad = slice_text("d", offset=1, length=4, values=[0.5, -1, 2, 0.25])
    e_grad = slice_text("e", keys=k[1:], values=[1, 2, 3, -1, -2, -3])
    live = record(2, bytes([1, 2]))
    write("ps_request", "asp", bytes([0]) + live + pull(1, 0, [d_read, e_read]) +
          push(1, 0, [d_grad, e_grad]) + pull(1, 1, [e_read]) +
          push(2, 0, [e_grad]))
    write("ps_request", "bsp_two_workers", bytes([1]) + live +
          pull(1, 0, [d_read, e_read]) + pull(2, 0, [d_read]) +
          push(1, 0, [d_grad]) + pull(1, 1, [d_read]) + push(2, 0, [e_grad]) +
          push(1, 1, [d_grad]) + record(2, bytes([1])) +
          push(2, 0, [], leave=True) + pull(1, 2, [d_read, e_read]))
    write("ps_request", "ssp", bytes([2]) + live + pull(1, 0, [d_read]) +
          pull(2, 0, [e_read]) + push(1, 0, [d_grad]) + pull(1, 1, [d_read]) +
          push(1, 1, [d_grad]) + pull(1, 2, [d_read]) + push(2, 0, [e_grad]) +
          pull(1, 2, [e_read]))
    write("ps_request", "rejected", bytes([0]) + live +
          pull(1, 0, [slice_text("nope", offset=0, length=1)]) +
          pull(1, 0, [slice_text("d", offset=5, length=3)]) +
          pull(1, 0, [slice_text("e", keys=[other])]) +
          push(1, 0, [slice_text("d", offset=0, length=1,
                                 values=[float("nan")])]) +
          push(1, 0, [slice_text("e", keys=k[:1], values=[1, 2])]))


def coordinator_seeds():
    # FuzzedDataProvider input: any bytes are a valid call sequence.
    rng = random.Random(8)
    for size in (16, 64, 256, 1024):
        write("coordinator", "random_%d" % size,
              bytes(rng.randrange(256) for _ in range(size)))


def main():
    for target in ("config", "logreg_data", "nplm_data", "checkpoint",
                   "ps_request", "coordinator"):
        folder = os.path.join(OUT, target)
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    os.remove(path)
    config_seeds()
    data_seeds()
    checkpoint_seeds()
    ps_request_seeds()
    coordinator_seeds()


if __name__ == "__main__":
    main()
