"""Driver for ksc-sdk-python (kscore, a botocore fork).

Flavour:
  py-kscore  ENV/bin/python sdk/drivers/py_kscore.py

Used as the package README shows: get_session().create_client("kec", region,
endpoint_url=..., use_ssl=False, ks_access_key_id=..., ks_secret_access_key=...,
[ks_session_token=...]) and the operation's snake_case method with keyword
arguments. kscore's KEC model lists operations but no input shapes, and its
users pass parameters by flat wire name (`**{"KeyId.1": ...}`), so the driver
passes the case's wire names unchanged, with converted values; nothing is
dropped on the way in.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

PACKAGES = ["ksc-sdk-python", "jmespath", "python-dateutil", "PyYAML", "docutils", "six"]
READ_TIMEOUT_S = 10  # kscore's default is 60 s


class Driver:
    def __init__(self):
        import kscore
        from kscore.config import Config
        from kscore.exceptions import ClientError
        from kscore.session import get_session

        self.xform, self.config_cls, self.client_error = kscore.xform_name, Config, ClientError
        self.session = get_session()
        self.clients = {}

    def client(self, req):
        cred = req["credentials"]
        key = c.client_key(req)
        if key not in self.clients:
            self.clients[key] = self.session.create_client(
                "kec",
                req.get("region") or "cn-beijing-6",
                endpoint_url="http://" + req["endpoint"],
                use_ssl=False,
                ks_access_key_id=cred.get("access_key_id"),
                ks_secret_access_key=cred.get("secret"),
                ks_session_token=cred.get("session_token") or None,
                config=self.config_cls(read_timeout=READ_TIMEOUT_S),
            )
        return self.clients[key]

    def handle(self, req):
        rid, action = req.get("id"), req["action"]
        client = self.client(req)
        method = self.xform(action)
        if action not in client.meta.service_model.operation_names or not hasattr(client, method):
            return c.unsupported(rid, f"kscore's kec model has no operation {action}")
        kwargs = {p["name"]: c.convert(p.get("value"), p.get("type") or "string") for p in req["params"]}
        resp, failed = c.call_sdk(rid, lambda: getattr(client, method)(**kwargs), self.client_error,
                                  lambda e: self.error(rid, e))
        if failed:
            return failed
        meta = resp.get("ResponseMetadata", {})
        body = {k: v for k, v in resp.items() if k != "ResponseMetadata"}
        return c.outcome(rid, "success", status=meta.get("HTTPStatusCode"),
                         request_id=body.get("RequestId") or meta.get("RequestId"), body=body)

    @staticmethod
    def error(rid, e):
        resp = getattr(e, "response", None) or {}
        meta = resp.get("ResponseMetadata", {})
        err = resp.get("Error", {})
        body = {k: v for k, v in resp.items() if k != "ResponseMetadata"}
        return c.outcome(rid, "error", status=meta.get("HTTPStatusCode"), code=err.get("Code"),
                         message=err.get("Message"), request_id=resp.get("RequestId") or meta.get("RequestId"),
                         body=body, exception=c.describe_exception(e))


def main():
    c.serve("py-kscore", PACKAGES, Driver().handle)


if __name__ == "__main__":
    main()
