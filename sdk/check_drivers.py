"""Proves each SDK driver against a running `apiconform serve`.

    python3 sdk/check_drivers.py --addr 127.0.0.1:18080 \
        --env py-tea-ecs=/path/to/venv --env node-tea-ecs=/path/to/npm-dir ...

Starts no emulator itself. For every `--env FLAVOUR=DIR` (a flavour may be
given several times, e.g. an old and a new version) it starts the flavour's
driver once (one long-lived process) and sends it, through the driver
protocol of sdk/README.md: the main action's success, a business error
(the instance is Running), a wrong secret, a session token, a support
action (DescribeInstances), and a malformed line the driver must survive.
The emulator's default tenant is reset and seeded through the control API
before each call. Prints one table row per environment; exit 1 if a check
fails. Standard library only.
"""

import argparse
import json
import os
import select
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_S = 60


def flavours():
    """flavour -> (vendor, driver file, driver args), from the flavour table
    (sdk/flavours/<flavour>/flavour.json, the one the binary carries)."""
    table = {}
    root = os.path.join(HERE, "flavours")
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, "flavour.json")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                row = json.load(f)
            table[name] = (row["vendor"], row["driver"], row.get("args", []))
    return table


FLAVOURS = flavours()

# Per vendor: the test credentials of `apiconform serve`, the call
# coordinates, the main action with its params (fixture names in ${}), the
# business error, and the support action.
VENDORS = {
    "aliyun": {
        "ak": "testid", "sk": "testsecret", "region": "cn-hangzhou", "service": "ecs", "version": "2014-05-26",
        "main": ("ReplaceSystemDisk", [("InstanceId", "${instance.id}", "string"),
                                       ("ImageId", "${other_image.id}", "string"),
                                       ("SystemDisk.Size", "60", "integer"),
                                       ("Password", "EcsV587!", "string")]),
        "busy": "IncorrectInstanceStatus",
        "support": ("DescribeInstances", [("InstanceIds", '["${instance.id}"]', "string")]),
        # The legacy SDK reads the string to sign the server echoes and reports
        # a wrong secret as InvalidAccessKeySecret, as against the real cloud.
        "bad_secret": ("SignatureDoesNotMatch", "InvalidAccessKeySecret"),
    },
    "volcengine": {
        "ak": "AKLTtestak", "sk": "testsk", "region": "cn-beijing", "service": "ecs", "version": "2020-04-01",
        "main": ("ReplaceSystemVolume", [("InstanceId", "${instance.id}", "string"),
                                         ("ImageId", "${other_image.id}", "string"),
                                         ("Password", "Password@123", "string"),
                                         ("DryRun", "false", "boolean")]),
        "busy": "InvalidInstanceStatus",
        "support": ("DescribeInstances", [("InstanceIds.1", "${instance.id}", "string")]),
        "bad_secret": ("SignatureDoesNotMatch",),
    },
    "ksyun": {
        "ak": "AKLTtestak", "sk": "testsecretkey", "region": "cn-beijing-6", "service": "kec",
        "version": "2016-03-04",
        "main": ("ModifyInstanceImage", [("InstanceId", "${instance.id}", "string"),
                                         ("ImageId", "${other_image.id}", "string"),
                                         ("InstancePassword", "1qaQ!abc", "string"),
                                         ("KeyId.1", "${key_pair.id}", "string")]),
        "busy": "InstanceStateNotSupported",
        "support": ("DescribeInstances", [("InstanceId.1", "${instance.id}", "string")]),
        "bad_secret": ("SignatureDoesNotMatch",),
    },
}

CHECKS = ["success", "business error", "wrong secret", "session token", "support action", "bad input"]


def control(addr, path, body=None):
    data = json.dumps(body or {}).encode()
    req = urllib.request.Request(f"http://{addr}/_apiconform/{path}", data=data, method="POST")
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as r:
        text = r.read()
    return json.loads(text) if text.strip() else {}


class Driver:
    """One driver process, spoken to line by line."""

    def __init__(self, flavour, env_dir):
        _, script, args = FLAVOURS[flavour]
        path = os.path.join(HERE, "drivers", script)
        env = dict(os.environ)
        if script.endswith(".py"):
            cmd = [os.path.join(env_dir, "bin", "python"), path] + args
        else:
            cmd = ["node", path] + args
            env["NODE_PATH"] = os.path.join(env_dir, "node_modules")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env, bufsize=1)
        self.hello = self.read()

    def read(self):
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT_S)
        if not ready:
            raise RuntimeError(f"no answer within {TIMEOUT_S} s")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"driver exited (status {self.proc.poll()})")
        return json.loads(line)

    def call(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def bind(params, fixtures):
    out = []
    for name, value, kind in params:
        for key, fid in fixtures.items():
            value = value.replace("${" + key + "}", fid)
        out.append({"name": name, "value": value, "type": kind})
    return out


def vendor_code(answer):
    """The vendor's error code, wherever this SDK exposes it."""
    body = answer.get("body") if isinstance(answer.get("body"), dict) else {}
    nested = body.get("Error") if isinstance(body.get("Error"), dict) else {}
    meta = body.get("ResponseMetadata") if isinstance(body.get("ResponseMetadata"), dict) else {}
    meta_err = meta.get("Error") if isinstance(meta.get("Error"), dict) else {}
    for code in (answer.get("code"), nested.get("Code"), meta_err.get("Code"), body.get("Code")):
        if code and code != "ServerNetworkError":
            return code
    return None


def request(n, vendor, action, params, secret=None, token=None, auth="valid"):
    v = VENDORS[vendor]
    return json.dumps({
        "id": n, "action": action, "version": v["version"], "service": v["service"], "endpoint": ARGS.addr,
        "region": v["region"], "auth": auth, "params": params,
        "credentials": {"access_key_id": v["ak"], "secret": secret or v["sk"], "session_token": token},
    })


def run_checks(driver, vendor):
    """Returns {check: (ok, cell text)} and the per-call times."""
    v, results, times = VENDORS[vendor], {}, []
    main_action, main_params = v["main"]
    support_action, support_params = v["support"]
    plan = [
        ("success", None, main_action, main_params, {}, None),
        ("business error", {"instances": {"instance": {"status": "Running"}}}, main_action, main_params, {},
         (v["busy"],)),
        ("wrong secret", None, main_action, main_params, {"secret": "wrong-secret", "auth": "bad_signature"},
         v["bad_secret"]),
        ("session token", None, main_action, main_params, {"token": "apiconform-sts-token", "auth": "session_token"},
         None),
        ("support action", None, support_action, support_params, {}, None),
    ]
    for n, (check, patch, action, params, extra, expect) in enumerate(plan, 1):
        control(ARGS.addr, f"reset?vendor={vendor}")
        fixtures = control(ARGS.addr, f"seed?vendor={vendor}", patch)["fixtures"]
        started = time.monotonic()
        answer = driver.call(request(n, vendor, action, bind(params, fixtures), **extra))
        times.append(time.monotonic() - started)
        results[check] = verdict(answer, expect)
    answer = driver.call("{not json")
    ok = answer.get("outcome") == "unsupported" and str(answer.get("reason", "")).startswith("bad input")
    results["bad input"] = (ok, "survived" if ok else f"FAIL {answer}")
    return results, times


def verdict(answer, expect):
    code = vendor_code(answer)
    if answer.get("outcome") == "unsupported":
        return False, f"FAIL unsupported: {answer.get('reason')}"
    if expect is None:
        ok = answer.get("outcome") == "success" and code is None
        return ok, "ok" if ok else f"FAIL {answer.get('outcome')} {code}: {str(answer.get('message'))[:80]}"
    ok = code in expect
    raised = "raised" if answer.get("outcome") == "error" else "returned"
    return ok, f"ok {code} ({raised}, {answer.get('status')})" if ok else f"FAIL {answer.get('outcome')} {code}"


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", required=True, help="HOST:PORT of a running `apiconform serve`")
    ap.add_argument("--env", action="append", default=[], metavar="FLAVOUR=DIR",
                    help="a flavour and its environment (venv dir, or the dir holding node_modules)")
    ARGS = ap.parse_args()
    if not ARGS.env:
        ap.error("give at least one --env FLAVOUR=DIR")
    rows, failed = [], False
    for spec in ARGS.env:
        flavour, _, env_dir = spec.partition("=")
        if flavour not in FLAVOURS or not env_dir:
            ap.error(f"--env {spec!r}: want FLAVOUR=DIR with FLAVOUR one of {', '.join(FLAVOURS)}")
        row, ok = check_one(flavour, env_dir)
        rows.append(row)
        failed |= not ok
    print_table(rows)
    return 1 if failed else 0


def check_one(flavour, env_dir):
    try:
        driver = Driver(flavour, env_dir)
    except Exception as e:  # the environment cannot start the driver
        return {"flavour": flavour, "versions": f"(cannot start: {e})", "cells": {}, "ms": ""}, False
    try:
        hello = driver.hello.get("hello", {})
        packages = hello.get("packages", {})
        versions = ", ".join(f"{k}={v}" for k, v in packages.items() if v)[:110]
        results, times = run_checks(driver, FLAVOURS[flavour][0])
    except Exception as e:
        return {"flavour": flavour, "versions": f"(failed: {e})", "cells": {}, "ms": ""}, False
    finally:
        driver.close()
    cells = {k: text for k, (ok, text) in results.items()}
    ms = f"{1000 * sum(times) / len(times):.0f}"
    return {"flavour": hello.get("flavour", flavour), "versions": versions, "cells": cells, "ms": ms}, all(
        ok for ok, _ in results.values())


def print_table(rows):
    print("| flavour | " + " | ".join(CHECKS) + " | ms/call |")
    print("|---" * (len(CHECKS) + 2) + "|")
    for r in rows:
        cells = [r["cells"].get(c, "-") for c in CHECKS]
        print(f"| {r['flavour']} | " + " | ".join(cells) + f" | {r['ms']} |")
    print()
    for r in rows:
        print(f"{r['flavour']}: {r['versions']}")


ARGS = None

if __name__ == "__main__":
    sys.exit(main())
