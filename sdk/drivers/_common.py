"""Shared plumbing of the Python SDK drivers (see sdk/README.md).

Why one module: every driver speaks the same JSON-lines protocol, nests the
case's wire-named parameters the same way and describes exceptions the same
way, so a difference between two flavours' answers is the SDKs' doing, never
a difference between two hand-written loops. Standard library only: the
driver runs inside the flavour's own virtualenv, next to nothing but the SDK.
"""

import importlib.metadata
import json
import os
import re
import sys
import traceback
import urllib.parse

INDEX = re.compile(r"^[0-9]+$")


def package_versions(names):
    """Installed versions of the SDK's key packages, from package metadata."""
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _dist_files(dist):
    """The real paths of a distribution's installed files."""
    return {os.path.realpath(dist.locate_file(f)) for f in (dist.files or [])}


def _top_levels(dist):
    """The top-level import names a distribution installs (from its file list)."""
    tops = set()
    for f in dist.files or []:
        first = f.parts[0] if f.parts else ""
        if not first or first.endswith((".dist-info", ".egg-info", ".data")) or first in ("..", "__pycache__"):
            continue
        tops.add(first[:-3] if first.endswith(".py") else first.split(".")[0])
    return tops


def _owner(path, dists):
    """The version of the distribution that installed `path`, if one did."""
    for d in dists:
        if path in _dist_files(d):
            return d.version
    return None


def _requirements(dist):
    """The names of the distributions `dist` requires (extras left out)."""
    names = []
    for req in dist.requires or []:
        if ";" in req and "extra" in req.split(";", 1)[1]:
            continue
        names.append(re.split(r"[\s;<>=!~\[(]", req.strip(), maxsplit=1)[0])
    return names


def probe(name, seen=None):
    """What this process loaded of the distribution `name`: the copy the
    environment installed, and every copy of its modules in sys.modules. A
    distribution without modules of its own (a meta-package that pins the
    real ones) counts as loaded when one it requires is."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return {"package": name, "installed": None, "loaded": []}
    own, tops = _dist_files(dist), _top_levels(dist)
    installed = {"version": dist.version, "path": str(dist.locate_file(""))}
    if not tops:
        seen = (seen or set()) | {name}
        deps = [d for d in _requirements(dist) if d not in seen]
        via = [d for d in deps if probe(d, seen)["loaded"]]
        return {"package": name, "installed": installed, "loaded": [installed] if via else [], "via": via}
    loaded, others = {}, None
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if not f or getattr(mod, "__name__", "").split(".")[0] not in tops:
            continue
        real = os.path.realpath(f)
        if real in own:
            loaded[installed["path"]] = installed["version"]
            continue
        if others is None:
            others = [d for d in importlib.metadata.distributions() if d.metadata["Name"] != dist.metadata["Name"]]
        loaded[os.path.dirname(real)] = _owner(real, others)
    copies = [{"version": v, "path": p} for p, v in sorted(loaded.items())]
    return {"package": name, "installed": installed, "loaded": copies}


def convert(value, kind):
    """A case value (always a string) as the contract's type; a value that does
    not convert stays the raw string, so the SDK decides what to do with it."""
    if not isinstance(value, str):
        return value
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "boolean":
        low = value.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        return value
    if kind == "array":
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value]
        return parsed if isinstance(parsed, list) else [value]
    return value


def _insert(tree, parts, value):
    head, rest = parts[0], parts[1:]
    if not rest:
        tree[head] = value
        return
    if INDEX.match(rest[0]):
        items = tree.setdefault(head, {})
        if not isinstance(items, dict):
            raise ValueError("conflicting parameter names at " + head)
        key = ("#", int(rest[0]))
        if len(rest) == 1:
            items[key] = value
        else:
            child = items.setdefault(key, {})
            if not isinstance(child, dict):
                raise ValueError("conflicting parameter names at " + head)
            _insert(child, rest[1:], value)
        return
    child = tree.setdefault(head, {})
    if not isinstance(child, dict):
        raise ValueError("conflicting parameter names at " + head)
    _insert(child, rest, value)


def _listify(node):
    """Turns the {("#", N): v} maps built by _insert into lists ordered by N."""
    if not isinstance(node, dict):
        return node
    keys = list(node)
    if keys and all(isinstance(k, tuple) for k in keys):
        return [_listify(node[k]) for k in sorted(keys, key=lambda k: k[1])]
    return {k: _listify(v) for k, v in node.items()}


def nest(params):
    """Case params -> (tree, canonical).

    tree nests `A.B` into objects and `A.N` / `A.N.B` into lists (ordered by N,
    whatever N starts at). canonical maps each wire name to the name the tree
    flattens back to (lists numbered from 1), used to find dropped params.
    """
    raw = {}
    for p in params:
        value = convert(p.get("value"), p.get("type") or "string")
        _insert(raw, str(p["name"]).split("."), value)
    tree = _listify(raw)
    canonical = {}
    for p in params:
        canonical[p["name"]] = _canonical_name(raw, str(p["name"]).split("."))
    return tree, canonical


def _canonical_name(raw, parts):
    out, node = [], raw
    i = 0
    while i < len(parts):
        out.append(parts[i])
        node = node.get(parts[i]) if isinstance(node, dict) else None
        i += 1
        if i < len(parts) and INDEX.match(parts[i]) and isinstance(node, dict):
            keys = sorted(k[1] for k in node if isinstance(k, tuple))
            n = int(parts[i])
            out.append(str(keys.index(n) + 1) if n in keys else parts[i])
            node = node.get(("#", n))
            i += 1
    return ".".join(out)


def flatten(obj, prefix=""):
    """Nested dicts/lists -> {wire name: value}, lists numbered from 1; None
    values are left out (an SDK does not send them)."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj, 1):
            out.update(flatten(v, f"{prefix}.{i}"))
    elif obj is not None:
        out[prefix] = obj
    return out


def dropped(canonical, kept_names):
    """Case params whose canonical name is not among the names the SDK's
    request object flattens to."""
    kept = set(kept_names)
    return sorted(name for name, canon in canonical.items() if canon not in kept)


def class_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def describe_exception(e):
    bases = [class_name(c) for c in type(e).__mro__[1:] if c is not object]
    attrs = sorted(k for k in vars(e) if not k.startswith("_")) if hasattr(e, "__dict__") else []
    return {
        "class": class_name(type(e)),
        "bases": bases,
        "retry_after": _jsonable(getattr(e, "retry_after", None)),
        "attributes": attrs,
    }


def _jsonable(v):
    try:
        json.dumps(v)
        return v
    except (TypeError, ValueError):
        return str(v)


def outcome(req_id, kind, **fields):
    out = {
        "id": req_id,
        "outcome": kind,
        "status": None,
        "code": None,
        "message": None,
        "request_id": None,
        "body": None,
        "exception": None,
        "dropped": [],
    }
    out.update(fields)
    return out


def unsupported(req_id, reason, dropped_names=None):
    return outcome(req_id, "unsupported", reason=reason, dropped=dropped_names or [])


def call_sdk(req_id, call, sdk_errors, on_error, dropped_names=None):
    """Calls the SDK once. Returns (its answer, None), or (None, the outcome)
    when it raised: its own errors through on_error, any other exception as
    unexpected."""
    try:
        return call(), None
    except sdk_errors as e:
        return None, on_error(e)
    except Exception as e:
        return None, unexpected(req_id, e, dropped_names)


def unexpected(req_id, e, dropped_names=None):
    """An exception the driver did not expect from the SDK (or a driver bug):
    reported as an error with its class, never a crash."""
    sys.stderr.write(scrub("".join(traceback.format_exception(e))))
    return outcome(
        req_id,
        "error",
        message=str(e),
        exception=describe_exception(e),
        dropped=dropped_names or [],
    )


def snake(action):
    """DescribeInstances -> describe_instances (the SDKs' method names)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", action).lower()


def json_body(text):
    """A response body as JSON, or the raw text when it is not JSON."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


# The secret and session token of the call being served: scrubbed from every
# output line and log (an SDK's message may carry the request URL, a
# SecurityToken in it).
_SECRETS = []
MIN_SECRET_LEN = 6


def _secret_forms(req):
    cred = req.get("credentials") if isinstance(req, dict) else None
    forms = set()
    for key in ("secret", "session_token"):
        v = cred.get(key) if isinstance(cred, dict) else None
        if isinstance(v, str) and len(v) >= MIN_SECRET_LEN:
            forms |= {v, urllib.parse.quote(v, safe=""), urllib.parse.quote_plus(v),
                      urllib.parse.quote(urllib.parse.quote(v, safe=""), safe="")}
    return sorted(forms, key=len, reverse=True)


def scrub(obj):
    """obj with every known secret form in its strings replaced."""
    if isinstance(obj, str):
        for form in _SECRETS:
            obj = obj.replace(form, "[redacted]")
        return obj
    if isinstance(obj, dict):
        return {k: scrub(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [scrub(v) for v in obj]
    return obj


def _check(req):
    if not isinstance(req, dict):
        raise ValueError("a request must be a JSON object")
    for key in ("action", "endpoint", "credentials"):
        if key not in req:
            raise ValueError(f"missing field {key!r}")
    if not isinstance(req.get("params", []), list):
        raise ValueError("params must be a list")
    for p in req.get("params", []):
        if not isinstance(p, dict) or "name" not in p:
            raise ValueError("each param needs a name")


def serve(flavour, packages, handle):
    """The JSON-lines loop: a hello line, then one output line per input line.
    handle(req) returns the output dict; nothing it raises ends the process."""
    global _OUT
    # stdout carries only protocol lines: anything an SDK prints goes to stderr.
    _OUT, sys.stdout = sys.stdout, sys.stderr
    emit({"hello": {"flavour": flavour, "packages": package_versions(packages)}})
    for raw in sys.stdin.buffer:  # bytes: invalid UTF-8 must not end the loop
        line = raw.decode("utf-8", "replace")
        if not line.strip():
            continue
        req_id = None
        try:
            req = json.loads(line)
            if isinstance(req, dict) and isinstance(req.get("probe"), str):
                emit({"probe": probe(req["probe"])})
                continue
            req_id = req.get("id") if isinstance(req, dict) else None
            _check(req)
            req.setdefault("params", [])
        except ValueError as e:
            emit(unsupported(req_id, f"bad input: {e}"))
            continue
        _SECRETS[:] = _secret_forms(req)
        try:
            emit(scrub(handle(req)))
        except BaseException as e:  # noqa: BLE001 -- the process must survive any SDK failure
            if isinstance(e, KeyboardInterrupt):
                raise
            emit(scrub(unexpected(req_id, e)))


_OUT = sys.stdout


def emit(obj):
    _OUT.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    _OUT.flush()


def client_key(req):
    """What one SDK client is built from: a call with the same endpoint,
    region and credentials reuses it."""
    cred = req["credentials"]
    return (req["endpoint"], req.get("region"), cred.get("access_key_id"), cred.get("secret"),
            cred.get("session_token"))


def body_success(rid, raw, dropped):
    """A success from an SDK that hands back only the body text: no status,
    the request ID read from the body."""
    body = json_body(raw)
    request_id = body.get("RequestId") if isinstance(body, dict) else None
    return outcome(rid, "success", request_id=request_id, body=body, dropped=dropped)
