"""paramd's Python worker: train a model written in numpy or PyTorch as one
of the trainers of a paramd job, beside C++ workers or instead of them.

    import paramd
    paramd.train(lambda job: MyModel(job), coordinator="127.0.0.1:7000")

See paramd.trainer for what a model provides. The protocol modules
(paramd.v1) are generated from proto/ at build time: put build/python on
PYTHONPATH.
"""

from paramd.channel import RpcError, Security
from paramd.job import Job, Table
from paramd.ps import PsClient, Rows
from paramd.sharding import dense_range, jump_hash
from paramd.trainer import Trainer, train

__all__ = ["Job", "PsClient", "Rows", "RpcError", "Security", "Table",
           "Trainer", "dense_range", "jump_hash", "train"]
