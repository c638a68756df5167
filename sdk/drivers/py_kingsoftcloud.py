"""Driver for kingsoftcloud-sdk-python (package `ksyun`).

Flavour:
  py-kingsoftcloud  ENV/bin/python sdk/drivers/py_kingsoftcloud.py

Used as the package README shows: Credential(ak, sk[, token]),
HttpProfile(endpoint, protocol) in a ClientProfile (default reqMethod POST,
form body), KecClient(cred, region, profile), a `<Action>Request()` model
filled with `from_json_string(json)`, and the client's `<Action>` method.
The model reads only the keys its generated `_deserialize` names, with
`if params.get(key)`: so `SystemDisk.DiskSize` (a flat key) and `KeyId` (a
list) get in, any other name is dropped, and so is a falsy value
(`KeepImageLogin=false`, `0`): the driver reports all of them as dropped.
A case may also name a model attribute (`SystemDisk_DiskSize`, the name the
SDK itself puts on the wire for `SystemDisk.DiskSize`): it is given under the
key the model reads for that attribute.
"""

import inspect
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

PACKAGES = ["kingsoftcloud-sdk-python", "requests", "requests-aws4auth", "urllib3", "six"]
READ_TIMEOUT_S = 10  # HttpProfile's default reqTimeout is 60 s
KEY = re.compile(r"""params\.get\(\s*["']([^"']+)["']\s*\)\s*:\s*\n\s*self\.([A-Za-z0-9_]+)\s*=""")


class Driver:
    def __init__(self):
        from ksyun.client.kec.v20160304 import client, models
        from ksyun.common.credential import Credential
        from ksyun.common.exception.ksyun_sdk_exception import KsyunSDKException
        from ksyun.common.profile.client_profile import ClientProfile
        from ksyun.common.profile.http_profile import HttpProfile

        self.client_cls, self.models = client.KecClient, models
        self.credential, self.sdk_error = Credential, KsyunSDKException
        self.client_profile, self.http_profile = ClientProfile, HttpProfile
        self.clients = {}

    def client(self, req):
        cred = req["credentials"]
        key = c.client_key(req)
        if key not in self.clients:
            http = self.http_profile(endpoint=req["endpoint"], protocol="http", reqTimeout=READ_TIMEOUT_S)
            credential = self.credential(cred.get("access_key_id"), cred.get("secret"),
                                         cred.get("session_token") or None)
            profile = self.client_profile(httpProfile=http)
            self.clients[key] = self.client_cls(credential, req.get("region") or "cn-beijing-6", profile)
        return self.clients[key]

    @staticmethod
    def keys(model_cls):
        """wire key -> attribute, as the model's own _deserialize reads them."""
        try:
            return dict(KEY.findall(inspect.getsource(model_cls._deserialize)))
        except (OSError, TypeError):
            return {}

    def handle(self, req):
        rid, action = req.get("id"), req["action"]
        model_cls = getattr(self.models, action + "Request", None)
        if model_cls is None or not hasattr(self.client_cls, action):
            return c.unsupported(rid, f"kingsoftcloud-sdk-python has no {action}Request model or KecClient.{action}")
        tree, canonical = c.nest(req["params"])
        keys = self.keys(model_cls)
        attr_to_key = {attr: key for key, attr in keys.items()}
        doc = {}
        for name, canon in canonical.items():
            head = canon.split(".")[0]
            if canon in keys or name in keys:  # a flat key the model reads, e.g. SystemDisk.DiskSize
                doc[canon if canon in keys else name] = _lookup(tree, canon)
            elif canon in attr_to_key:  # the attribute's own name, e.g. SystemDisk_DiskSize
                doc[attr_to_key[canon]] = _lookup(tree, canon)
            elif head in keys and isinstance(tree.get(head), list):  # a list the model reads, e.g. KeyId
                doc[head] = tree[head]
        request = model_cls()
        try:
            request.from_json_string(json.dumps(doc))
        except Exception as e:
            return c.unexpected(rid, e, sorted(canonical))
        kept = c.flatten({attr_to_key.get(a, a): v for a, v in vars(request).items()})
        kept.update(c.flatten({a: v for a, v in vars(request).items()}))
        gone = c.dropped(canonical, kept)
        raw, failed = c.call_sdk(rid, lambda: getattr(self.client(req), action)(request), self.sdk_error,
                                 lambda e: self.error(rid, e, gone), gone)
        if failed:
            return failed
        # The client returns the body text only: no status on success.
        return c.body_success(rid, raw, gone)

    @staticmethod
    def error(rid, e, gone):
        # A non-200 answer becomes KsyunSDKException("ServerNetworkError", <body text>):
        # the SDK exposes no status, and the vendor's code only inside that text.
        body = c.json_body(e.message) if isinstance(e.message, (str, bytes)) else None
        return c.outcome(rid, "error", code=e.code, message=_text(e.message), request_id=e.requestId,
                         body=body if isinstance(body, dict) else None, exception=c.describe_exception(e),
                         dropped=gone)


def _lookup(tree, canon):
    node = tree
    for part in canon.split("."):
        node = node[int(part) - 1] if isinstance(node, list) else node[part]
    return node


def _text(v):
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else v


def main():
    c.serve("py-kingsoftcloud", PACKAGES, Driver().handle)


if __name__ == "__main__":
    main()
