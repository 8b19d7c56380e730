#!/usr/bin/env python3
"""Turn any plain-text corpus into token-id shards for paramd's language model.

`paramctl data text --source=PATH --out=DIR` runs this.  PATH is a text file
or a folder of them (read in name order, each one document).  Inside a file,
a line holding only a form feed also ends a document, and blank lines end
paragraphs.

Tokens (tools/text_tokens.cc cuts generate's prompts the same way): words are
runs of ASCII letters, digits, '_' and non-ASCII characters, joined inside by
single ' or -; every other character but ASCII whitespace is a token of its
own; with --lowercase, ASCII letters are lowercased.  `</p>` closes every
paragraph and `</d>` every document, as in the Brown preparation.

Splits: the documents' paragraphs in order; the last --test fraction of the
tokens is test, the --valid fraction before it validation, the rest train,
each cut at the paragraph boundary nearest its share.  Vocabulary: `<unk>`
(id 0), then every token seen at least --min-count times in train, by
descending count, then `</p>` and `</d>` if train has too few; other tokens
map to 0.  The train paragraphs are shuffled
(seeded) and cut into --shards files.

Outputs in --out, as prepare_brown.py writes them: vocab.txt, train-NNNNN.ids,
valid.ids, test.ids, meta.json; and job.yaml, a cluster YAML that trains
Bengio et al.'s (2003) model on them (`paramctl launch DIR/job.yaml`).
Errors (no text, impossible splits) go to stderr with exit code 2.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npm_source  # noqa: E402
import prepare_brown  # noqa: E402  (the shared vocabulary, shards and files)
from npm_source import PrepError  # noqa: E402
from prepare_brown import END_DOC, END_PARA  # noqa: E402

PROG = "prepare_text"
_WORD = "[A-Za-z0-9_\u0080-\U0010ffff]"
TOKEN_RE = re.compile(f"{_WORD}+(?:['-]{_WORD}+)*|[^ \t\n\r\f\v]")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                             "abcdefghijklmnopqrstuvwxyz")

JOB_YAML = """\
# Written by `paramctl data text`: the neural language model of Bengio et al.
# (2003) on {source}. Train it with: paramctl launch {out}/job.yaml
job:
  name: {name}
  consistency: bsp
  combine: mean
  epochs: {epochs}
  batch_size: 64            # per worker; a bsp round combines 2 x 64
  lease_timeout_s: 30
  heartbeat_interval_s: 1
  eval_interval_s: 0        # validate at every epoch end

cluster:
  num_servers: 1
  num_workers: 2

data:
  train: train-*.ids
  eval: valid.ids
  test: test.ids

model:
  type: nplm
  order: 5
  embedding_dim: {m}
  hidden: {h}
  vocab_size: {vocab}
  direct: 1
  pad_id: {pad}  # id of </d>

optimizer:
  kind: sgd
  learning_rate: 2.048      # 1.6e-2 per example x 128
  lr_decay: 3.2e-4          # per round

tables:
  - {{name: C, type: sparse, width: {m}, init: {{kind: uniform, scale: 0.1, seed: 1}}}}
  - {{name: H, type: dense, shape: [{h}, {x}],
     init: {{kind: uniform, scale: {h_scale}, seed: 2}}}}
  - {{name: d, type: dense, shape: [{h}]}}
  - {{name: U, type: dense, shape: [{vocab}, {h}],
     init: {{kind: uniform, scale: {u_scale}, seed: 3}}}}
  - {{name: b, type: dense, shape: [{vocab}]}}
  - {{name: W, type: dense, shape: [{vocab}, {x}],
     init: {{kind: uniform, scale: {h_scale}, seed: 4}}}}
"""


def tokenize(text, lowercase):
    if lowercase:
        text = text.translate(_ASCII_LOWER)
    return TOKEN_RE.findall(text)


def documents_of(text):
    """The documents of one file's text: blocks ended by a form-feed line."""
    return re.split(r"(?m)^\f[ \t\r]*$\n?", text)


def paragraph_tokens(document, lowercase):
    """The tokens of one document, `</p>` after each paragraph, `</d>` last."""
    tokens = []
    for block in re.split(r"\n[ \t\r\f\v]*\n", document):
        words = tokenize(block, lowercase)
        if words:
            tokens += words + [END_PARA]
    return tokens + [END_DOC] if tokens else []


def source_files(source):
    if os.path.isdir(source):
        names = sorted(n for n in os.listdir(source)
                       if not n.startswith(".") and os.path.isfile(os.path.join(source, n)))
        return [os.path.join(source, n) for n in names]
    if os.path.isfile(source):
        return [source]
    raise PrepError(f"{source}: no such file or folder")


def read_corpus(source, lowercase):
    """The token stream of every document; returns (tokens, documents)."""
    stream, documents = [], 0
    for path in source_files(source):
        try:
            with open(path, encoding="utf-8-sig", errors="strict") as fh:
                text = fh.read()  # utf-8-sig: a leading byte-order mark goes
        except UnicodeDecodeError as exc:
            raise PrepError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        for document in documents_of(text):
            tokens = paragraph_tokens(document, lowercase)
            stream += tokens
            documents += 1 if tokens else 0
    if not stream:
        raise PrepError(f"{source}: no text")
    return stream, documents


def nearest_boundary(tokens, target):
    """The offset after the `</p>`/`</d>` nearest `target` (0 or len at ends)."""
    if target <= 0:
        return 0
    if target >= len(tokens):
        return len(tokens)
    bounds = [i + 1 for i, t in enumerate(tokens) if t in (END_PARA, END_DOC)]
    return min(bounds, key=lambda b: (abs(b - target), b))


def prepare(args):
    """Run the whole preparation; returns meta."""
    stream, documents = read_corpus(args.source, args.lowercase)
    total = len(stream)
    end_train = nearest_boundary(stream, round(total * (1 - args.valid - args.test)))
    end_valid = nearest_boundary(stream, round(total * (1 - args.test)))
    splits = {"train": stream[:end_train], "valid": stream[end_train:end_valid],
              "test": stream[end_valid:]}
    for name in ("train", "valid", "test"):
        share = {"train": 1, "valid": args.valid, "test": args.test}[name]
        if share > 0 and not splits[name]:
            raise PrepError(f"the {name} split is empty: {total} tokens in "
                            f"{sum(t == END_PARA for t in stream)} paragraphs are too few")
    vocab = prepare_brown.build_vocab(splits["train"], args.min_count)
    # The markers are words even when train holds few of them (one document:
    # its </d> is in test), so that </d> can pad contexts.
    vocab += [t for t in (END_PARA, END_DOC) if t not in vocab]
    splits["train"] = prepare_brown.shuffle_paragraphs(splits["train"], args.seed)
    cuts = prepare_brown.shard_cuts(splits["train"], args.shards)
    meta = {"tokens": total, "train": len(splits["train"]),
            "valid": len(splits["valid"]), "test": len(splits["test"]),
            "vocab_size": len(vocab), "paragraphs": stream.count(END_PARA),
            "documents": documents, "shards": len(cuts), "unk_id": 0,
            "pad_id": None, "min_count": args.min_count, "lowercase": args.lowercase,
            "seed": args.seed, "source": args.source}
    prepare_brown.write_outputs(args.out, vocab, splits, cuts, meta)
    write_job(args, meta)
    return meta


def write_job(args, meta):
    """job.yaml: an MLP1-like model, smaller for smaller data."""
    small = meta["train"] < 200000
    m, h = (30, 50) if small else (60, 50)
    x = 4 * m
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", os.path.basename(os.path.normpath(args.source)))
    text = JOB_YAML.format(
        source=args.source, out=args.out, name=f"nplm-{name}"[:64],
        epochs=args.epochs, m=m, h=h, x=x, vocab=meta["vocab_size"], pad=meta["pad_id"],
        h_scale=round(1 / x ** 0.5, 4), u_scale=round(1 / h ** 0.5, 4))
    prepare_brown.write_atomic(os.path.join(args.out, "job.yaml"), text)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="prepare_text.py",
        description="Turn a plain-text corpus into vocab + token-id shards "
                    "(train/valid/test) and a job.yaml for paramd's NPLM.")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--source", required=True, help="a text file or a folder of them")
    p.add_argument("--shards", type=int, default=8, help="train shard files (default 8)")
    p.add_argument("--valid", type=float, default=0.1,
                   help="fraction of the tokens for validation (default 0.1)")
    p.add_argument("--test", type=float, default=0.1,
                   help="fraction of the tokens for test, at the end (default 0.1)")
    p.add_argument("--min-count", type=int, default=2,
                   help="minimum train count for a vocabulary token (default 2)")
    p.add_argument("--lowercase", action="store_true", help="lowercase ASCII letters")
    p.add_argument("--seed", type=int, default=2003,
                   help="seed of the shuffled train paragraphs (default 2003)")
    p.add_argument("--epochs", type=int, default=5, help="epochs in job.yaml (default 5)")
    args = p.parse_args(argv)
    for name in ("shards", "min_count", "epochs"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if not (0 <= args.valid < 1 and 0 <= args.test < 1 and args.valid + args.test < 1):
        p.error("--valid and --test must be fractions in [0, 1) that sum below 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    return npm_source.run_main(PROG, args, prepare, lambda meta: (
        f"{prepare_brown.summary(meta, args.out)}; "
        f"train it: paramctl launch {args.out}/job.yaml"))


if __name__ == "__main__":
    sys.exit(main())
