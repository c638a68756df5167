"""Unit tests of the Python drivers' shared plumbing (no SDK needed).

    python3 -m unittest discover -s sdk/tests
"""

import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVERS = os.path.join(os.path.dirname(HERE), "drivers")
sys.path.insert(0, DRIVERS)
import _common as c  # noqa: E402


def p(name, value, kind="string"):
    return {"name": name, "value": value, "type": kind}


class CallSdk(unittest.TestCase):
    def test_an_answer_the_sdks_own_error_and_anything_else(self):
        class SdkError(Exception):
            pass

        def boom(exc):
            def call():
                raise exc
            return call

        on_error = lambda e: {"kind": "sdk-error", "what": str(e)}  # noqa: E731
        self.assertEqual(c.call_sdk(1, lambda: "body", SdkError, on_error), ("body", None))
        self.assertEqual(c.call_sdk(1, boom(SdkError("no")), SdkError, on_error),
                         (None, {"kind": "sdk-error", "what": "no"}))
        answer, failed = c.call_sdk(1, boom(KeyError("k")), SdkError, on_error, ["X"])
        self.assertIsNone(answer)
        self.assertEqual((failed["outcome"], failed["dropped"]), ("error", ["X"]))
        self.assertIn("KeyError", json.dumps(failed["exception"]))


class Convert(unittest.TestCase):
    def test_types(self):
        self.assertEqual(c.convert("60", "integer"), 60)
        self.assertIs(c.convert("TRUE", "boolean"), True)
        self.assertIs(c.convert("false", "boolean"), False)
        self.assertEqual(c.convert('["i-1","i-2"]', "array"), ["i-1", "i-2"])
        self.assertEqual(c.convert("i-1", "array"), ["i-1"])

    def test_a_value_that_does_not_convert_stays_raw(self):
        self.assertEqual(c.convert("sixty", "integer"), "sixty")
        self.assertEqual(c.convert("yes", "boolean"), "yes")


class Nest(unittest.TestCase):
    def test_objects_and_lists(self):
        tree, canonical = c.nest([
            p("InstanceId", "i-1"), p("SystemDisk.Size", "60", "integer"),
            p("Arn.1.RoleType", "Primary"), p("Arn.1.AssumeRoleFor", "1", "integer"),
            p("Arn.2.RoleType", "Other"), p("KeyId.1", "k1"),
        ])
        self.assertEqual(tree, {
            "InstanceId": "i-1", "SystemDisk": {"Size": 60},
            "Arn": [{"RoleType": "Primary", "AssumeRoleFor": 1}, {"RoleType": "Other"}], "KeyId": ["k1"],
        })
        self.assertEqual(canonical["Arn.2.RoleType"], "Arn.2.RoleType")

    def test_lists_are_ordered_by_n_whatever_it_starts_at(self):
        tree, canonical = c.nest([p("KeyId.3", "c"), p("KeyId.0", "a")])
        self.assertEqual(tree, {"KeyId": ["a", "c"]})
        self.assertEqual(canonical, {"KeyId.0": "KeyId.1", "KeyId.3": "KeyId.2"})

    def test_conflicting_names_are_an_error_not_a_crash(self):
        with self.assertRaises(ValueError):
            c.nest([p("A", "1"), p("A.B", "2")])


class Dropped(unittest.TestCase):
    def test_round_trip(self):
        _, canonical = c.nest([p("InstanceId", "i"), p("KeyId.0", "k"), p("Bogus", "x"), p("SystemDisk.Size", "1")])
        kept = c.flatten({"InstanceId": "i", "KeyId": ["k"], "SystemDisk": {"Size": None}})
        self.assertEqual(c.dropped(canonical, kept), ["Bogus", "SystemDisk.Size"])

    def test_snake(self):
        self.assertEqual(c.snake("DescribeInstances"), "describe_instances")
        self.assertEqual(c.snake("ReplaceSystemDisk"), "replace_system_disk")


class ExceptionDescription(unittest.TestCase):
    def test_class_bases_attributes(self):
        class Base(Exception):
            pass

        class Boom(Base):
            def __init__(self):
                super().__init__("boom")
                self.code = "X"
                self.retry_after = 1500
                self._private = 1

        d = c.describe_exception(Boom())
        self.assertTrue(d["class"].endswith("Boom"))
        self.assertEqual([b.rsplit(".", 1)[-1] for b in d["bases"]], ["Base", "Exception", "BaseException"])
        self.assertEqual(d["retry_after"], 1500)
        self.assertEqual(d["attributes"], ["code", "retry_after"])


LOOP = """
import sys
sys.path.insert(0, sys.argv[1])
import _common as c
def handle(req):
    if req["action"] == "Raise":
        raise RuntimeError("failed with " + req["credentials"]["secret"])
    print("noise from an SDK")
    return c.outcome(req.get("id"), "success", body={"echo": req["credentials"]["session_token"]})
c.serve("test", ["no-such-package"], handle)
"""


class Loop(unittest.TestCase):
    def run_lines(self, lines):
        # Strict decoding of stdin, as under a non-UTF-8-mode locale: invalid
        # bytes must still not end the loop.
        env = dict(os.environ, PYTHONIOENCODING="utf-8:strict")
        proc = subprocess.run([sys.executable, "-c", LOOP, DRIVERS], input=b"".join(lines), capture_output=True,
                              timeout=60, env=env)
        return [json.loads(line) for line in proc.stdout.decode().splitlines()], proc.stderr.decode()

    def test_one_line_per_input_and_the_process_survives(self):
        call = {"action": "X", "endpoint": "e", "params": [],
                "credentials": {"secret": "sk-123456", "session_token": "tok/123456"}}
        out, err = self.run_lines([
            b"not json\n", b"\xff\xfe\n", b"[]\n", b'{"id": 1}\n',
            json.dumps(dict(call, id=2, action="Raise")).encode() + b"\n",
            json.dumps(dict(call, id=3)).encode() + b"\n",
        ])
        self.assertEqual(out[0], {"hello": {"flavour": "test", "packages": {"no-such-package": None}}})
        self.assertEqual([o["outcome"] for o in out[1:]], ["unsupported"] * 4 + ["error", "success"])
        self.assertTrue(all(o["reason"].startswith("bad input") for o in out[1:5]))
        self.assertEqual(out[4]["id"], 1)
        self.assertEqual(out[5]["exception"]["class"], "builtins.RuntimeError")
        self.assertEqual(out[5]["message"], "failed with [redacted]")
        self.assertEqual(out[6]["body"], {"echo": "[redacted]"})
        self.assertIn("noise from an SDK", err)  # an SDK's print goes to stderr, never stdout
        self.assertNotIn("sk-123456", err)


if __name__ == "__main__":
    unittest.main()


class Probe(unittest.TestCase):
    def test_a_loaded_distribution_and_one_not_installed(self):
        import importlib.metadata

        try:
            importlib.metadata.distribution("pip")
        except importlib.metadata.PackageNotFoundError:
            self.skipTest("pip is not installed as a distribution here")
        import pip  # noqa: F401 -- loads the distribution's modules

        p = c.probe("pip")
        self.assertIsNotNone(p["installed"])
        self.assertIn(p["installed"], p["loaded"])
        gone = c.probe("no-such-distribution-apiconform")
        self.assertEqual((gone["installed"], gone["loaded"]), (None, []))
