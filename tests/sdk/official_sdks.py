"""Drives `apiconform serve` with the vendors' official Python SDKs, changing
nothing but the endpoint. Usage: official_sdks.py HOST:PORT

Prints one line per check and exits non-zero on the first failure.
"""
import json
import sys
import urllib.request

ADDR = sys.argv[1]


def control(path, body=b"{}"):
    req = urllib.request.Request(f"http://{ADDR}/_apiconform/{path}", data=body, method="POST")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def ok(what):
    print(f"ok {what}")


def aliyun():
    from alibabacloud_ecs20140526.client import Client
    from alibabacloud_ecs20140526 import models
    from alibabacloud_tea_openapi.models import Config

    ids = control("seed?vendor=aliyun")["fixtures"]
    for algo in (None, "v2"):  # ACS3-HMAC-SHA256 (default), RPC V1 HMAC-SHA1
        control("reset?vendor=aliyun")
        cfg = Config(access_key_id="testid", access_key_secret="testsecret", endpoint=ADDR, protocol="http",
                     signature_algorithm=algo)
        c = Client(cfg)
        r = c.replace_system_disk(models.ReplaceSystemDiskRequest(
            instance_id=ids["instance.id"], image_id=ids["other_image.id"],
            system_disk=models.ReplaceSystemDiskRequestSystemDisk(size=60), password="EcsV587!"))
        assert r.status_code == 200 and r.body.disk_id.startswith("d-"), r
        assert r.body.disk_id != ids["system_disk.id"]
        ok(f"alibabacloud_ecs20140526 ReplaceSystemDisk ({algo or 'ACS3'}): new disk {r.body.disk_id[:2]}...")
        try:
            c.replace_system_disk(models.ReplaceSystemDiskRequest(
                instance_id=ids["instance.id"], image_id=ids["image.id"] + "x"))
            raise AssertionError("expected an error")
        except Exception as e:  # tea's ClientException
            assert getattr(e, "code", None) == "InvalidImageId.NotFound", repr(e)
            assert getattr(e, "status_code", getattr(e, "statusCode", None)) == 404, repr(e)
        ok(f"alibabacloud_ecs20140526 error ({algo or 'ACS3'}): InvalidImageId.NotFound 404")

    # The legacy SDK (RPC V1, query string, SignatureType=, auto-filled ClientToken).
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkecs.request.v20140526.ReplaceSystemDiskRequest import ReplaceSystemDiskRequest
    control("reset?vendor=aliyun")
    host, port = ADDR.split(":")
    legacy = AcsClient("testid", "testsecret", "cn-hangzhou", port=int(port), auto_retry=False)
    req = ReplaceSystemDiskRequest()
    req.set_endpoint(host)
    req.set_InstanceId(ids["instance.id"])
    req.set_ImageId(ids["other_image.id"])
    body = json.loads(legacy.do_action_with_exception(req))
    assert body["DiskId"].startswith("d-"), body
    ok("aliyun-python-sdk-ecs ReplaceSystemDisk (legacy RPC V1)")
    bad = AcsClient("testid", "wrong-secret", "cn-hangzhou", port=int(port), auto_retry=False)
    try:
        bad.do_action_with_exception(req)
        raise AssertionError("expected an error")
    except ServerException as e:
        # The legacy SDK parses the string to sign after the colon; a wrong
        # secret (same string to sign) is reported as InvalidAccessKeySecret.
        code = e.get_error_code()
        assert code in ("SignatureDoesNotMatch", "InvalidAccessKeySecret"), e
        assert e.get_http_status() == 400, e
    ok("aliyun-python-sdk-core wrong secret: " + code)


def volcengine():
    import volcenginesdkcore
    import volcenginesdkecs
    from volcenginesdkcore.rest import ApiException

    ids = control("seed?vendor=volcengine")["fixtures"]
    cfg = volcenginesdkcore.Configuration()
    cfg.host = ADDR
    cfg.scheme = "http"
    cfg.region = "cn-beijing"
    cfg.ak = "AKLTtestak"
    cfg.sk = "testsk"
    cfg.auto_retry = False
    volcenginesdkcore.Configuration.set_default(cfg)
    api = volcenginesdkecs.ECSApi()
    api.replace_system_volume(volcenginesdkecs.ReplaceSystemVolumeRequest(
        instance_id=ids["instance.id"], image_id=ids["other_image.id"], password="Password@123", dry_run=False))
    ok("volcengine-python-sdk ReplaceSystemVolume")
    try:
        api.replace_system_volume(volcenginesdkecs.ReplaceSystemVolumeRequest(
            instance_id=ids["instance.id"], image_id="image-doesnotexist000000", password="Password@123"))
        raise AssertionError("expected an error")
    except ApiException as e:
        assert e.status == 404, e
        code = json.loads(e.body)["ResponseMetadata"]["Error"]["Code"]
        assert code == "InvalidImage.NotFound", e.body
    ok("volcengine-python-sdk error: InvalidImage.NotFound 404")


def ksyun():
    from kscore.session import get_session
    from kscore.exceptions import ClientError

    ids = control("seed?vendor=ksyun")["fixtures"]
    c = get_session().create_client("kec", "cn-beijing-6", endpoint_url=f"http://{ADDR}", use_ssl=False,
                                    ks_access_key_id="AKLTtestak", ks_secret_access_key="testsecretkey")
    r = c.modify_instance_image(InstanceId=ids["instance.id"], ImageId=ids["other_image.id"],
                                InstancePassword="1qaQ!abc", **{"KeyId.1": ids["key_pair.id"]})
    assert r["Return"] is True, r
    ok("ksc-sdk-python ModifyInstanceImage")
    control("seed?vendor=ksyun", json.dumps({"instances": {"instance": {"status": "Running"}}}).encode())
    try:
        c.modify_instance_image(InstanceId=ids["instance.id"], ImageId=ids["other_image.id"],
                                InstancePassword="1qaQ!abc")
        raise AssertionError("expected an error")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "InstanceStateNotSupported", e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
    ok("ksc-sdk-python error: InstanceStateNotSupported 400")


for vendor in (aliyun, volcengine, ksyun):
    vendor()
print("all official SDK checks passed")
