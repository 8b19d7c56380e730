"""The Python worker against real daemons: the same sharding as C++, the
NPLM in PyTorch reaching the C++ worker's perplexity, C++ and Python
trainers sharing one job, a numpy model on sparse tables under asp, and
bad data reported rather than fatal."""

import importlib.util
import os
import re

import numpy as np
import pytest

from conftest import SOURCE, cpp_trainer, python_trainer

import paramd

NPLM = """
job: {name: py-nplm, consistency: bsp, epochs: EPOCHS, batch_size: 32,
      shuffle: SHUFFLE, lease_timeout_s: 20, heartbeat_interval_s: 0.5,
      eval_interval_s: 0}
cluster: {num_servers: 2}
data: {train: DATA/train-*.ids, eval: DATA/valid.ids}
"""


def nplm_config(brown, epochs, shuffle):
    data, vocab, pad = brown
    with open(os.path.join(SOURCE, "tests", "testdata",
                           "brown-slice-nplm.yaml")) as f:
        model = f.read()
    text = (NPLM + model).replace("EPOCHS", str(epochs)).replace(
        "SHUFFLE", "true" if shuffle else "false").replace("DATA", data)
    return re.sub(r"\bPAD\b", str(pad), re.sub(r"\bV\b", str(vocab), text))


def test_jump_hash_places_keys_where_cpp_does():
    cases = np.loadtxt(os.path.join(SOURCE, "tests", "testdata",
                                    "jump_hash_cases.tsv"),
                       dtype=np.uint64, comments="#", ndmin=2)
    assert len(cases) >= 30
    for key, shards, shard in cases:
        assert paramd.jump_hash([key], int(shards))[0] == int(shard), key
    # Vectorised, over one shard count: the same answers.
    eights = cases[cases[:, 1] == 8]
    assert (paramd.jump_hash(eights[:, 0], 8) == eights[:, 2]).all()


def test_dense_ranges_tile_a_table():
    for size in (0, 1, 7, 100):
        for n in (1, 3, 8):
            ranges = [paramd.dense_range(size, s, n) for s in range(n)]
            assert ranges[0][0] == 0 and ranges[-1][1] == size
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
            assert max(e - b for b, e in ranges) - min(
                e - b for b, e in ranges) <= 1


def test_pytorch_nplm_reaches_the_cpp_workers_perplexity(brown, launch):
    # One trainer and no shuffling: the C++ and the Python worker see the
    # same batches in the same order, so only float rounding differs.
    config = nplm_config(brown, epochs=1, shuffle=False)
    cpp = launch(config, 1, [], name="cpp").wait()
    python = launch(config, 0, [python_trainer("nplm_torch.py")],
                    name="python").wait()
    ours = python["metrics"]["eval_perplexity"]
    theirs = cpp["metrics"]["eval_perplexity"]
    print("validation perplexity after 1 epoch: C++ %.2f, PyTorch %.2f" %
          (theirs, ours))
    assert abs(ours - theirs) <= 0.03 * theirs
    assert ours < 0.5 * brown[1]  # far below uniform
    assert python["epochs"][0]["completions"] == 4
    assert python["epochs"][0]["examples"] == cpp["epochs"][0]["examples"]


def test_cpp_and_python_trainers_share_a_job(brown, launch):
    # The Python trainer first (it takes a while to import PyTorch), then a
    # C++ one: both hold leases from the first epoch on.
    run = launch(nplm_config(brown, epochs=2, shuffle=True), 0,
                 [python_trainer("nplm_torch.py")])
    run.wait_for_log("trainer-0.log", "registered as trainer")
    run.add_trainer(cpp_trainer())
    summary = run.wait()
    for epoch in summary["epochs"]:
        assert epoch["completions"] == 4 and epoch["shards_completed"] == 4
        assert epoch["examples"] == 6000
    assert summary["failures"]["expired_leases"] == 0
    assert "training shard" in run.log("trainer-0.log")
    assert "training shard" in run.log("trainer-1.log")
    assert summary["metrics"]["eval_perplexity"] < 0.5 * brown[1]


LOGREG = """
job: {name: py-logreg, consistency: asp, epochs: 3, batch_size: 16,
      heartbeat_interval_s: 0.5, eval_interval_s: 0}
cluster: {num_servers: 2}
data: {train: DATA/train-*.svm, eval: DATA/eval.svm}
model: {type: logreg}
optimizer: {kind: adagrad, learning_rate: 0.5}
tables:
  - {name: w, type: sparse, width: 1}
  - {name: bias, type: dense, shape: [1]}
"""


def write_separable(folder, shards, per_shard, features=200, seed=5):
    """LIBSVM lines labelled by a hidden weight vector; the keys are spread
    over the whole uint64 range so both servers hold rows."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=features)
    keys = rng.integers(0, 2**63, size=features, dtype=np.uint64) * 2 + 1

    def lines(count):
        for _ in range(count):
            used = rng.choice(features, size=8, replace=False)
            label = int(truth[used].sum() > 0)
            yield "%d %s\n" % (label, " ".join(
                "%d:1" % keys[u] for u in sorted(used)))

    for s in range(shards):
        with open(os.path.join(folder, "train-%d.svm" % s), "w") as f:
            f.writelines(lines(per_shard))
    with open(os.path.join(folder, "eval.svm"), "w") as f:
        f.writelines(lines(400))


def test_numpy_logreg_on_sparse_rows_under_asp(folder, launch):
    data = os.path.join(folder, "data")
    os.makedirs(data)
    write_separable(data, shards=4, per_shard=300)
    # A shard of garbage: reported by the worker that leases it, and left
    # out; the job goes on.
    with open(os.path.join(data, "train-4.svm"), "wb") as f:
        f.write(b"\x00\xff garbage\n")
    run = launch(LOGREG.replace("DATA", data), 0,
                 [python_trainer("logreg_numpy.py")] * 2)
    summary = run.wait()
    assert summary["metrics"]["eval_accuracy"] > 0.85, summary["metrics"]
    failed = summary["failures"]["failed_shards"]
    assert failed and all(f["path"].endswith("train-4.svm") for f in failed)
    # The bad shard counts as done (and failed) once, then is left out.
    completions = [epoch["completions"] for epoch in summary["epochs"]]
    assert completions == [5, 4, 4], summary["epochs"]
    assert all(e["shards_completed"] == 5 for e in summary["epochs"])


def test_a_model_error_names_the_file_and_line(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "logreg_numpy", python_trainer("logreg_numpy.py")[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bad = tmp_path / "bad.svm"
    bad.write_text("1 3:1\n1 x:1\n")
    with pytest.raises(ValueError, match=r"bad.svm:2"):
        module.Logreg(None, None).read(str(bad))
