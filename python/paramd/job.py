"""The parts of the job's YAML a Python worker needs, read from the text
the coordinator hands out at registration (it has validated it already).
Defaults are those of common/config.h."""

import dataclasses
import math

import yaml


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    sparse: bool
    width: int = 0     # sparse: floats per row
    shape: tuple = ()  # dense: dimensions, row-major

    @property
    def size(self):
        """Dense: elements of the whole table. Sparse: 0."""
        return 0 if self.sparse else math.prod(self.shape)


@dataclasses.dataclass(frozen=True)
class Job:
    name: str
    consistency: str
    epochs: int
    batch_size: int
    shuffle: bool
    heartbeat_interval_s: float
    model_type: str
    model_params: dict
    skip_bad_lines: bool  # data.bad_lines: skip (else the shard fails)
    tables: dict  # name -> Table, in YAML order
    text: str     # the YAML itself

    @staticmethod
    def parse(text):
        doc = yaml.safe_load(text) or {}
        job = doc.get("job") or {}
        model = dict(doc.get("model") or {})
        tables = {}
        for t in doc.get("tables") or []:
            sparse = t.get("type") == "sparse"
            tables[t["name"]] = Table(
                name=t["name"], sparse=sparse,
                width=int(t.get("width", 0)) if sparse else 0,
                shape=() if sparse else tuple(int(d) for d in t["shape"]))
        return Job(
            name=str(job.get("name", "")),
            consistency=str(job.get("consistency", "bsp")),
            epochs=int(job.get("epochs", 1)),
            batch_size=int(job.get("batch_size", 32)),
            shuffle=bool(job.get("shuffle", True)),
            heartbeat_interval_s=float(job.get("heartbeat_interval_s", 1)),
            model_type=str(model.pop("type", "")),
            model_params=model,
            skip_bad_lines=(doc.get("data") or {}).get("bad_lines") == "skip",
            tables=tables,
            text=text)
