"""Driver for the legacy aliyun-python-sdk-core + aliyun-python-sdk-ecs.

Flavour:
  py-aliyun-core  ENV/bin/python sdk/drivers/py_aliyun_core.py

Used as the packages' README shows: AcsClient(ak, secret, region, port=...)
(StsTokenCredential for a session token), the generated request class
`aliyunsdkecs.request.v20140526.<Action>Request`, `request.set_endpoint(host)`,
its `set_*` setters, and `do_action_with_exception`. The setters are the only
way the SDK takes parameters: `SystemDisk.Size` -> set_SystemDiskSize,
`Arn.N.*` -> set_Arns([{...}]), `InstanceId.N` -> set_InstanceIds([...]).
A parameter with no setter is dropped (the SDK has no way to send it),
except `RegionId`: a request without it is signed with `RegionId` set to the
client's region (`aliyunsdkcore/request.py`, `get_url`), so the driver builds
the client with the case's region and the SDK sends it.
"""

import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

PACKAGES = ["aliyun-python-sdk-core", "aliyun-python-sdk-ecs", "jmespath", "cryptography"]


class Driver:
    def __init__(self):
        from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
        from aliyunsdkcore.client import AcsClient

        self.acs_client, self.sdk_errors = AcsClient, (ClientException, ServerException)
        self.clients = {}

    def client(self, req, region):
        cred = req["credentials"]
        port = int(req["endpoint"].rsplit(":", 1)[1]) if ":" in req["endpoint"] else 80
        key = (port, region, cred.get("access_key_id"), cred.get("secret"), cred.get("session_token"))
        if key not in self.clients:
            if cred.get("session_token"):
                from aliyunsdkcore.auth.credentials import StsTokenCredential

                sts = StsTokenCredential(cred.get("access_key_id"), cred.get("secret"), cred["session_token"])
                self.clients[key] = self.acs_client(region_id=region, port=port, credential=sts)
            else:
                self.clients[key] = self.acs_client(cred.get("access_key_id"), cred.get("secret"), region, port=port)
        return self.clients[key]

    @staticmethod
    def request_class(action):
        try:
            module = importlib.import_module(f"aliyunsdkecs.request.v20140526.{action}Request")
        except ImportError:
            return None
        return getattr(module, f"{action}Request", None)

    @staticmethod
    def setter(request, names):
        for name in names:
            fn = getattr(request, "set_" + name, None)
            if callable(fn):
                return fn
        return None

    def fill(self, request, tree):
        """Calls the setter for each top-level parameter; returns the names it
        found no setter for."""
        missing = []
        for key, value in tree.items():
            if isinstance(value, list):
                fn = self.setter(request, [key + "s", key])
                if fn is None:
                    missing.append(key)
                    continue
                fn(value)
            elif isinstance(value, dict):
                for path, leaf in c.flatten(value).items():
                    parts = [key] + path.split(".")
                    fn = self.setter(request, ["".join(parts), "_".join(parts)])
                    if fn is None:
                        missing.append(".".join(parts))
                        continue
                    fn(leaf)
            else:
                fn = self.setter(request, [key])
                if fn is None:
                    missing.append(key)
                    continue
                fn(value)
        return missing

    def handle(self, req):
        rid, action = req.get("id"), req["action"]
        cls = self.request_class(action)
        if cls is None:
            return c.unsupported(rid, f"aliyun-python-sdk-ecs has no {action}Request class")
        tree, canonical = c.nest(req["params"])
        request = cls()
        request.set_endpoint(req["endpoint"].rsplit(":", 1)[0])
        region = req.get("region") or "cn-hangzhou"
        if not callable(getattr(request, "set_RegionId", None)) and isinstance(tree.get("RegionId"), (str, int)):
            region = str(tree.pop("RegionId"))  # sent from the client's region
        try:
            self.fill(request, tree)
        except Exception as e:  # a setter refused the shape (a scalar where a list is expected...)
            return c.unexpected(rid, e, sorted(canonical))
        sent = dict(request.get_query_params() or {})
        sent.update(request.get_body_params() or {})
        sent.setdefault("RegionId", region)
        gone = c.dropped(canonical, sent)
        client = self.client(req, region)
        raw, failed = c.call_sdk(rid, lambda: client.do_action_with_exception(request), self.sdk_errors,
                                 lambda e: self.error(rid, e, gone), gone)
        if failed:
            return failed
        # do_action_with_exception returns only the body: no status on success.
        return c.body_success(rid, raw, gone)

    @staticmethod
    def error(rid, e, gone):
        get = lambda name: getattr(e, name)() if hasattr(e, name) else None  # noqa: E731
        return c.outcome(rid, "error", status=get("get_http_status"), code=get("get_error_code"),
                         message=get("get_error_msg"), request_id=get("get_request_id"),
                         exception=c.describe_exception(e), dropped=gone)


def main():
    c.serve("py-aliyun-core", PACKAGES, Driver().handle)


if __name__ == "__main__":
    main()
