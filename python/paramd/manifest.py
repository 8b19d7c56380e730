"""The check common/data_manifest.cc makes before a shard is trained: if
the shard's folder holds a paramd-manifest.json (written by `paramctl
partition`) that lists the file, its size and CRC-32 must match."""

import os
import zlib

from google.protobuf import json_format

from paramd.v1 import manifest_pb2

MANIFEST_FILE = "paramd-manifest.json"


class DataLoss(ValueError):
    """A shard that changed after it was partitioned."""


def check_against_manifest(path):
    """Raises DataLoss naming the file and what differs, or ValueError if
    the manifest is damaged; returns if there is no manifest or it does not
    list the file."""
    folder, name = os.path.split(path)
    manifest_path = os.path.join(folder, MANIFEST_FILE)
    try:
        with open(manifest_path) as f:
            text = f.read()
    except FileNotFoundError:
        return
    manifest = manifest_pb2.DataManifest()
    try:
        json_format.Parse(text, manifest)
    except json_format.ParseError as error:
        raise ValueError("%s: not a data manifest: %s" %
                         (manifest_path, error)) from None
    for entry in manifest.shards:
        if entry.file != name:
            continue
        size, crc = 0, 0
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                size += len(block)
                crc = zlib.crc32(block, crc)
        if size != entry.bytes or crc != entry.crc32:
            raise DataLoss(
                "%s: does not match %s (%d bytes, CRC-32 %d; the manifest "
                "says %d bytes, CRC-32 %d): it changed after it was "
                "partitioned" % (path, MANIFEST_FILE, size, crc, entry.bytes,
                                 entry.crc32))
        return
