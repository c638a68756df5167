"""Driver for volcengine-python-sdk (volcenginesdkcore + volcenginesdkecs, and
volcenginesdkstorageebs for the EBS actions).

Flavour:
  py-volcengine  ENV/bin/python sdk/drivers/py_volcengine.py

Used as the package README shows: a volcenginesdkcore.Configuration (ak, sk,
[session_token], region, host, scheme), ApiClient(configuration),
volcenginesdkecs.ECSApi(api_client) (STORAGEEBSApi of volcenginesdkstorageebs
for a `storage_ebs` action), a request model `<Action>Request(**kwargs)` and the
snake_case method. The model's attribute_map (python name -> wire
name) and swagger_types (nested models, list[...]) turn the case's wire names
into kwargs; a wire name not in attribute_map is dropped. Old releases (1.0.x,
4.x) differ in their models and Configuration; the driver reads both tables
from the installed classes, never from a fixed list.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

# 5.x splits the SDK into per-service dists; 1.x/4.x ship one dist.
PACKAGES = ["volcengine-python-sdk", "volcenginesdk-core", "volcenginesdk-ecs", "urllib3", "six", "certifi"]
LIST = re.compile(r"^list\[(.*)\]$")
# The request's service -> (module, API class), as each module's README shows.
SERVICES = {"ecs": ("volcenginesdkecs", "ECSApi"), "storage_ebs": ("volcenginesdkstorageebs", "STORAGEEBSApi")}
READ_TIMEOUT_S = 10


class Driver:
    def __init__(self):
        import volcenginesdkcore
        from volcenginesdkcore.rest import ApiException

        self.core, self.api_exception = volcenginesdkcore, ApiException
        self.modules = {}
        self.apis = {}

    def module(self, service):
        """The SDK module of a service, or None when this release has none."""
        if service not in self.modules:
            name = SERVICES.get(service, (None,))[0]
            try:
                self.modules[service] = __import__(name) if name else None
            except ImportError:
                self.modules[service] = None
        return self.modules[service]

    def api(self, req, mod, api_class):
        cred = req["credentials"]
        key = (c.client_key(req), api_class)
        if key not in self.apis:
            cfg = self.core.Configuration()
            cfg.ak = cred.get("access_key_id")
            cfg.sk = cred.get("secret")
            if cred.get("session_token"):
                cfg.session_token = cred["session_token"]
            cfg.region = req.get("region") or "cn-beijing"
            cfg.host = req["endpoint"]
            cfg.scheme = "http"
            if hasattr(cfg, "read_timeout"):
                cfg.read_timeout = READ_TIMEOUT_S  # default 30 s
            self.apis[key] = getattr(mod, api_class)(self.core.ApiClient(cfg))
        return self.apis[key]

    @staticmethod
    def model(mod, name):
        return getattr(mod, name, None) or getattr(getattr(mod, "models", None), name, None)

    def build(self, mod, cls, tree, prefix, gone):
        """A model instance from a wire-named map; unknown names go to gone."""
        by_wire = {wire: attr for attr, wire in cls.attribute_map.items()}
        kwargs = {}
        for wire, value in tree.items():
            attr = by_wire.get(wire)
            if attr is None:
                gone.append(prefix + wire)
                continue
            kwargs[attr] = self.value(mod, cls.swagger_types.get(attr, "str"), value, f"{prefix}{wire}.", gone)
        return cls(**kwargs)

    def value(self, mod, kind, value, prefix, gone):
        m = LIST.match(kind)
        if m:
            items = value if isinstance(value, list) else [value]
            return [self.value(mod, m.group(1), v, f"{prefix}{i}.", gone) for i, v in enumerate(items, 1)]
        cls = self.model(mod, kind)
        if cls is not None and hasattr(cls, "attribute_map") and isinstance(value, dict):
            return self.build(mod, cls, value, prefix, gone)
        return value

    def handle(self, req):
        rid, action = req.get("id"), req["action"]
        service = req.get("service") or "ecs"
        mod = self.module(service)
        mod_name, api_class = SERVICES.get(service, (f"a module for service {service}", "?"))
        if mod is None:
            return c.unsupported(rid, f"this release has no {mod_name}")
        cls = self.model(mod, action + "Request")
        if cls is None or not hasattr(getattr(mod, api_class, None), c.snake(action)):
            return c.unsupported(rid, f"{mod_name} has no {action}Request model or {api_class}.{c.snake(action)}")
        tree, canonical = c.nest(req["params"])
        api = self.api(req, mod, api_class)
        unknown = []
        try:
            body = self.build(mod, cls, tree, "", unknown)
            kept = c.flatten(wire(body))
            gone = c.dropped(canonical, kept)
        except Exception as e:  # the model refused a value (client-side validation): the SDK's own error
            gone = c.dropped(canonical, [n for n in canonical.values() if n not in unknown])
            return c.outcome(rid, "error", message=str(e), exception=c.describe_exception(e), dropped=gone)
        resp, failed = c.call_sdk(rid, lambda: getattr(api, c.snake(action))(body), self.api_exception,
                                  lambda e: self.error(rid, e, gone), gone)
        if failed:
            return failed
        data = wire(resp)
        # The SDK hands back only Result: no status, no RequestId on success.
        return c.outcome(rid, "success", body=data, dropped=gone)

    @staticmethod
    def error(rid, e, gone):
        body = c.json_body(e.body) if e.body is not None else None
        meta = body.get("ResponseMetadata", {}) if isinstance(body, dict) else {}
        err = meta.get("Error", {}) if isinstance(meta, dict) else {}
        return c.outcome(rid, "error", status=e.status, code=err.get("Code"), message=err.get("Message"),
                         request_id=meta.get("RequestId"), body=body, exception=c.describe_exception(e),
                         dropped=gone)


def wire(obj):
    """A model (or list/dict of models) keyed by wire names, as the SDK's own
    serializer does it (attribute_map; None left out)."""
    if isinstance(obj, list):
        return [wire(v) for v in obj]
    if isinstance(obj, dict):
        return {k: wire(v) for k, v in obj.items()}
    if hasattr(obj, "attribute_map") and hasattr(obj, "swagger_types"):
        return {obj.attribute_map[a]: wire(getattr(obj, a)) for a in obj.swagger_types
                if getattr(obj, a, None) is not None}
    return obj


def main():
    c.serve("py-volcengine", PACKAGES, Driver().handle)


if __name__ == "__main__":
    main()
