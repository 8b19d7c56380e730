#!/usr/bin/python3
"""Bengio et al.'s (2003) neural probabilistic language model in PyTorch,
trained as a paramd trainer: the same model, tables and data as the C++
worker's (worker/models/nplm.h), so it can train the job beside C++
workers or instead of them, and the C++ evaluator scores it.

    PYTHONPATH=build/python /usr/bin/python3 python/examples/nplm_torch.py \
        --coordinator=127.0.0.1:PORT
"""

import sys

import numpy as np
import torch
import torch.nn.functional as F

import paramd
from paramd.cli import main


class Nplm:
    def __init__(self, job, flags):
        p = job.model_params
        self.n = int(p.get("order", 5))
        self.vocab = int(p["vocab_size"])
        self.pad = int(p.get("pad_id", 0))
        self.dense = ["H", "d", "U", "b"] + (["W"] if p.get("direct") else [])
        self.skip_bad_lines = job.skip_bad_lines
        torch.set_num_threads(flags.threads)

    def read(self, path):
        """Whitespace-separated token ids; example t is (the n-1 ids before
        token t, padded at the start of the file, then token t)."""
        tokens = []
        with open(path, errors="replace") as f:
            for number, line in enumerate(f, 1):
                ids = line.split()
                if all(i.isdigit() and int(i) < self.vocab for i in ids):
                    tokens.extend(int(i) for i in ids)
                elif not self.skip_bad_lines:
                    raise ValueError("%s:%d: not a token id below %d" %
                                     (path, number, self.vocab))
        if not tokens:
            return np.empty((0, self.n), np.int64)
        padded = np.concatenate(
            [np.full(self.n - 1, self.pad, np.int64), tokens]).astype(np.int64)
        return np.lib.stride_tricks.sliding_window_view(padded, self.n)

    def needs(self, batch):
        return dict({name: None for name in self.dense},
                    C=np.unique(batch[:, :-1]))

    def step(self, batch, params):
        rows = torch.from_numpy(params["C"].values).requires_grad_()
        w = {k: torch.from_numpy(params[k]).requires_grad_()
             for k in self.dense}
        context = params["C"].positions(batch[:, :-1].reshape(-1))
        x = rows[torch.from_numpy(context)].reshape(len(batch), -1)
        a = torch.tanh(w["d"] + x @ w["H"].T)
        y = w["b"] + a @ w["U"].T
        if "W" in w:
            y = y + x @ w["W"].T
        loss = F.cross_entropy(y, torch.from_numpy(batch[:, -1].copy()),
                               reduction="sum")
        (loss / len(batch)).backward()  # the gradient of the mean loss
        grads = {k: v.grad.numpy() for k, v in w.items()}
        grads["C"] = paramd.Rows(params["C"].keys, rows.grad.numpy())
        return grads, loss.item()


def add_flags(parser):
    parser.add_argument("--threads", type=int, default=1,
                        help="PyTorch's intra-op threads")


if __name__ == "__main__":
    sys.exit(main(Nplm, __doc__.splitlines()[0], add_flags=add_flags))
