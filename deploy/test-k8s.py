#!/usr/bin/python3
"""Renders deploy/k8s with `kubectl kustomize` and checks what can be checked
without a cluster: every container runs a paramd binary (under tini) with
flags that binary accepts (from its --helpfull), every $(VAR) its arguments
use is set in its env, every probe targets a port the container declares,
and every parameter-server and worker pod's flags name the Services that
exist. Needs kubectl and the built binaries: deploy/test-k8s.py [BIN_DIR]."""

import re
import subprocess
import sys

import yaml

DEPLOY = sys.path[0]
BIN = sys.argv[1] if len(sys.argv) > 1 else DEPLOY + "/../build/bin"
BINARIES = {"paramd-coordinator", "paramd-ps", "paramd-worker", "paramctl"}


def accepted_flags(binary):
    out = subprocess.run([f"{BIN}/{binary}", "--helpfull"], capture_output=True,
                         text=True, check=False)
    return set(re.findall(r"^\s+--(\w+)", out.stdout + out.stderr, re.M))


def main():
    rendered = subprocess.run(["kubectl", "kustomize", DEPLOY + "/k8s"],
                              capture_output=True, text=True, check=True).stdout
    objects = [o for o in yaml.safe_load_all(rendered) if o]
    flags = {b: accepted_flags(b) for b in BINARIES}
    services = {o["metadata"]["name"] for o in objects if o["kind"] == "Service"}
    errors, checked = [], 0
    for obj in objects:
        spec = obj.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {})
        for c in pod.get("containers", []) if pod else []:
            where = f'{obj["kind"]}/{obj["metadata"]["name"]}/{c["name"]}'
            command = c.get("command", []) + c.get("args", [])
            if command[:2] == ["/usr/bin/tini", "--"]:
                command = command[2:]
            else:
                errors.append(f"{where}: not run under tini")
            binary = command[0] if command else ""
            if binary not in BINARIES:
                errors.append(f"{where}: runs {binary!r}, not a paramd binary")
                continue
            env = {e["name"] for e in c.get("env", [])}
            for arg in command[1:]:
                m = re.match(r"--(\w+)(=(.*))?$", arg)
                if m and m.group(1) not in flags[binary]:
                    errors.append(f"{where}: {binary} has no flag --{m.group(1)}")
                for var in re.findall(r"\$\((\w+)\)", arg):
                    if var not in env:
                        errors.append(f"{where}: $({var}) is not in its env")
                if m and m.group(1) == "coordinator":
                    host = m.group(3).split(":")[0]
                    if host not in services:
                        errors.append(f"{where}: no Service {host}")
                if m and m.group(1) == "advertise":
                    domain = m.group(3).split(":")[0].split(".", 1)[-1]
                    if domain not in services:
                        errors.append(f"{where}: no Service {domain}")
            ports = {p["containerPort"] for p in c.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe"):
                port = c.get(probe, {}).get("grpc", {}).get("port")
                if binary != "paramctl" and port not in ports:
                    errors.append(f"{where}: {probe} on undeclared port {port}")
            checked += 1
    for e in errors:
        print("test-k8s:", e, file=sys.stderr)
    print(f"test-k8s: {len(objects)} objects, {checked} containers checked, "
          f"{len(errors)} problems")
    return 1 if errors or checked < 5 else 0


if __name__ == "__main__":
    sys.exit(main())
