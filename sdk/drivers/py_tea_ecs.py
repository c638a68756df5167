"""Driver for alibabacloud_ecs20140526 (Python, tea-openapi).

Flavours:
  py-tea-ecs      ENV/bin/python sdk/drivers/py_tea_ecs.py                  (default: ACS3-HMAC-SHA256)
  py-tea-ecs-v2   ENV/bin/python sdk/drivers/py_tea_ecs.py --signature v2   (Config(signature_algorithm='v2'): RPC V1)

Used as the package README shows: Config(access_key_id, access_key_secret,
[security_token], endpoint, protocol, region_id) -> Client, a request model
built with `<Action>Request().from_map(wire-named map)`, and the client's
snake_case method. Works with tea-openapi 0.3.x (Tea.exceptions.TeaException)
and 0.4.x (alibabacloud_tea_openapi.exceptions.*) alike.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

PACKAGES = [
    "alibabacloud-ecs20140526",
    "alibabacloud-tea-openapi",
    "alibabacloud-tea-util",
    "alibabacloud-openapi-util",
    "alibabacloud-credentials",
    "alibabacloud-tea",
    "darabonba-core",
]


class Driver:
    def __init__(self, signature):
        from alibabacloud_ecs20140526 import models
        from alibabacloud_ecs20140526.client import Client
        from alibabacloud_tea_openapi.models import Config

        self.models, self.client_cls, self.config_cls = models, Client, Config
        self.signature = signature
        self.clients = {}

    def client(self, req):
        cred = req["credentials"]
        key = c.client_key(req)
        if key not in self.clients:
            cfg = self.config_cls(
                access_key_id=cred.get("access_key_id"),
                access_key_secret=cred.get("secret"),
                endpoint=req["endpoint"],
                protocol="http",
                region_id=req.get("region"),
            )
            if cred.get("session_token"):
                cfg.security_token = cred["session_token"]
            if self.signature:
                cfg.signature_algorithm = self.signature
            self.clients[key] = self.client_cls(cfg)
        return self.clients[key]

    def handle(self, req):
        rid, action = req.get("id"), req["action"]
        model = getattr(self.models, action + "Request", None)
        method = getattr(self.client_cls, c.snake(action), None)
        if model is None or method is None:
            return c.unsupported(rid, f"alibabacloud_ecs20140526 has no {action}Request model or "
                                      f"{c.snake(action)} method")
        tree, canonical = c.nest(req["params"])
        try:
            request = model().from_map(tree)
            gone = c.dropped(canonical, c.flatten(request.to_map()))
        except Exception as e:  # from_map refused the shape (a scalar where a model is expected...)
            return c.unexpected(rid, e, sorted(canonical))
        try:
            resp = getattr(self.client(req), c.snake(action))(request)
        except Exception as e:
            return self.error(rid, e, gone)
        body = resp.body.to_map() if getattr(resp, "body", None) is not None else None
        return c.outcome(rid, "success", status=getattr(resp, "status_code", None),
                         request_id=(body or {}).get("RequestId"), body=body, dropped=gone)

    @staticmethod
    def error(rid, e, gone):
        if not hasattr(e, "code"):
            return c.unexpected(rid, e, gone)
        data = getattr(e, "data", None)
        status = getattr(e, "status_code", None) or getattr(e, "statusCode", None)
        request_id = getattr(e, "request_id", None)
        if request_id is None and isinstance(data, dict):
            request_id = data.get("RequestId")
        return c.outcome(rid, "error", status=status, code=e.code, message=getattr(e, "message", None),
                         request_id=request_id, body=data if isinstance(data, dict) else None,
                         exception=c.describe_exception(e), dropped=gone)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--signature", choices=["v2"], default=None)
    args = ap.parse_args()
    flavour = "py-tea-ecs-v2" if args.signature == "v2" else "py-tea-ecs"
    c.serve(flavour, PACKAGES, Driver(args.signature).handle)


if __name__ == "__main__":
    main()
