#!/usr/bin/python3
"""Logistic regression on sparse (hashed) features in numpy, trained as a
paramd trainer: the C++ worker's logreg (worker/models/logreg.h), with
table "w" sparse of width 1 keyed by feature and "bias" dense [1].

    PYTHONPATH=build/python /usr/bin/python3 python/examples/logreg_numpy.py \
        --coordinator=127.0.0.1:PORT
"""

import sys

import numpy as np

import paramd
from paramd.cli import main


class Logreg:
    def __init__(self, job, flags):
        self.skip_bad_lines = job.skip_bad_lines

    def read(self, path):
        """LIBSVM lines: "label idx:val ...", label 0/1 or -1/+1, idx below
        2^64, val finite."""
        examples = []
        with open(path, errors="replace") as f:
            for number, line in enumerate(f, 1):
                fields = line.split()
                if not fields or fields[0].startswith("#"):
                    continue
                try:
                    examples.append(self.parse(fields))
                except ValueError as error:
                    if not self.skip_bad_lines:
                        raise ValueError("%s:%d: %s" % (path, number, error))
        return examples

    @staticmethod
    def parse(fields):
        label = float(fields[0])
        if label not in (0, 1, -1):
            raise ValueError("label %r is not 0, 1, -1 or +1" % fields[0])
        pairs = [item.split(":") for item in fields[1:]]
        if any(len(pair) != 2 or not pair[0].isdigit() or
               int(pair[0]) >= 2**64 for pair in pairs):
            raise ValueError("a feature is not index:value with an index "
                             "below 2^64")
        values = np.array([float(v) for _, v in pairs])
        if not np.isfinite(values).all():
            raise ValueError("a feature value is not finite")
        keys = np.array([int(k) for k, _ in pairs], np.uint64)
        return float(label == 1), keys, values

    def needs(self, batch):
        return {"bias": None, "w": np.concatenate([k for _, k, _ in batch])}

    def step(self, batch, params):
        w, bias = params["w"], params["bias"][0]
        grad_w = np.zeros_like(w.values)
        grad_bias, loss_sum = 0.0, 0.0
        for label, keys, values in batch:
            at = w.positions(keys)
            z = bias + w.values[at, 0] @ values
            loss_sum += np.logaddexp(0, -z if label else z)
            g = (1 / (1 + np.exp(-z)) - label) / len(batch)
            np.add.at(grad_w[:, 0], at, g * values)
            grad_bias += g
        return {"w": paramd.Rows(w.keys, grad_w),
                "bias": np.array([grad_bias])}, loss_sum


if __name__ == "__main__":
    sys.exit(main(Logreg, __doc__.splitlines()[0]))
