"""The Python worker against real daemons: the same sharding as C++, the
NPLM in PyTorch reaching the C++ worker's perplexity, C++ and Python
trainers sharing one job, a numpy model on sparse tables under asp, and
bad data reported rather than fatal."""

import importlib.util
import os
import re
import subprocess

import numpy as np
import pytest

from conftest import BUILD, SOURCE, cpp_trainer, python_trainer

import paramd
import paramd.manifest
from paramd.shuffle import shard_order

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


def test_shards_are_shuffled_as_the_cpp_worker_shuffles_them():
    cases = 0
    with open(os.path.join(SOURCE, "tests", "testdata",
                           "shuffle_cases.tsv")) as f:
        for line in f:
            if line.startswith("#"):
                continue
            epoch, shard, count, order = line.rstrip("\n").split("\t")
            assert shard_order(int(epoch), int(shard), int(count)).tolist() \
                == [int(i) for i in order.split()], line[:40]
            cases += 1
    assert cases >= 8


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


def load_example(name):
    spec = importlib.util.spec_from_file_location(
        name, python_trainer(name + ".py")[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_examples_name_bad_lines_or_skip_them(tmp_path):
    logreg = load_example("logreg_numpy")
    bad = tmp_path / "bad.svm"
    bad.write_text("1 3:1\n1 x:1\n0 4:nan\n1 %d:1\n-1 5:2\n" % 2**64)
    fail = paramd.Job.parse("data: {bad_lines: fail}")
    with pytest.raises(ValueError, match=r"bad.svm:2"):
        logreg.Logreg(fail, None).read(str(bad))
    skip = paramd.Job.parse("data: {bad_lines: skip}")
    kept = logreg.Logreg(skip, None).read(str(bad))
    assert [(label, list(keys)) for label, keys, _ in kept] == [
        (1.0, [3]), (0.0, [5])]

    nplm = load_example("nplm_torch")
    job = paramd.Job.parse("model: {type: nplm, order: 3, vocab_size: 10, "
                           "pad_id: 9}\ndata: {bad_lines: skip}")
    flags = type("Flags", (), {"threads": 1})
    ids = tmp_path / "ids"
    ids.write_text("1 2\n3 x\n\n4\n")
    assert nplm.Nplm(job, flags).read(str(ids)).tolist() == [
        [9, 9, 1], [9, 1, 2], [1, 2, 4]]
    ids.write_text("")
    assert nplm.Nplm(job, flags).read(str(ids)).shape == (0, 3)


def test_a_shard_changed_since_partitioning_is_data_loss(tmp_path):
    source = tmp_path / "all.svm"
    source.write_text("".join("1 %d:1\n" % i for i in range(100)))
    out = tmp_path / "shards"
    subprocess.run([os.path.join(BUILD, "bin", "paramctl"), "partition",
                    "--out=%s" % out, "--shards=2", str(source)], check=True,
                   capture_output=True)
    shards = sorted(p for p in out.iterdir() if p.suffix != ".json")
    assert len(shards) == 2
    for shard in shards:
        paramd.manifest.check_against_manifest(str(shard))  # unchanged
    with open(shards[1], "a") as f:
        f.write("0 7:1\n")
    with pytest.raises(paramd.manifest.DataLoss, match="changed after"):
        paramd.manifest.check_against_manifest(str(shards[1]))
    (out / "paramd-manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a data manifest"):
        paramd.manifest.check_against_manifest(str(shards[0]))


def test_a_secured_job_takes_a_python_trainer_with_the_worker_token(
        folder, launch):
    data = os.path.join(folder, "data")
    sec = os.path.join(folder, "sec")
    os.makedirs(data)
    write_separable(data, shards=2, per_shard=200)
    for script in ("make-certs.sh", "make-tokens.sh"):
        subprocess.run(["bash", os.path.join(SOURCE, "scripts", script), sec],
                       check=True, capture_output=True)
    config = LOGREG.replace("DATA", data) + """
security:
  tls_cert: SEC/node.crt
  tls_key: SEC/node.key
  tls_ca: SEC/ca.crt
  mutual_tls: true
  tokens: SEC/tokens
  worker_token: SEC/worker.token
  server_token: SEC/server.token
  admin_token: SEC/admin.token
""".replace("SEC", sec)
    credentials = ["--tls_ca=%s/ca.crt" % sec, "--tls_cert=%s/node.crt" % sec,
                   "--tls_key=%s/node.key" % sec]
    run = launch(config, 0, [])
    # A server's token may not register a trainer; no certificate, no call.
    run.add_trainer(python_trainer("logreg_numpy.py") + credentials +
                    ["--token_file=%s/server.token" % sec])
    run.add_trainer(python_trainer("logreg_numpy.py") +
                    ["--tls_ca=%s/ca.crt" % sec,
                     "--token_file=%s/worker.token" % sec])
    assert run.trainers[0].wait(timeout=60) == 1
    assert "PERMISSION_DENIED" in run.log("trainer-0.log")
    # A failed handshake looks like a daemon not up yet: retried, and said.
    run.wait_for_log("trainer-1.log", "cannot register yet (UNAVAILABLE")
    run.trainers[1].terminate()
    assert run.trainers[1].wait(timeout=60) == 0
    run.trainers.clear()
    run.add_trainer(python_trainer("logreg_numpy.py") + credentials +
                    ["--token_file=%s/worker.token" % sec])
    summary = run.wait()
    assert summary["metrics"]["eval_accuracy"] > 0.8, summary["metrics"]
    assert [e["completions"] for e in summary["epochs"]] == [2, 2, 2]
    with open(os.path.join(sec, "worker.token")) as f:
        token = f.read().strip()
    assert token not in run.log("trainer-0.log")
