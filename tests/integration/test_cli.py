"""Command-line surface: version, help, usage errors, global flags."""

import json

import pytest

from conftest import describe

COMMANDS = ["create", "start", "run", "state", "kill", "delete", "list",
            "spec", "features"]
# commands that take exactly one container id
NEEDS_ID = ["create", "start", "run", "state", "kill", "delete"]


def test_version(rt):
    res = rt.run(["--version"], check=True)
    assert "version" in res.stdout.lower()
    # runc prints "spec: 1.0.2-dev"; krunc names the spec version it implements too
    assert any(line.startswith("spec: 1.") for line in res.stdout.splitlines()), res.stdout


@pytest.mark.krunc_only
def test_version_names_krunc(rt):
    res = rt.run(["--version"], check=True)
    assert res.stdout.splitlines()[0].startswith("krunc version "), res.stdout


def test_global_help_lists_commands(rt):
    res = rt.run(["--help"], check=True)
    for cmd in COMMANDS:
        assert cmd in res.stdout, "%s missing from --help:\n%s" % (cmd, res.stdout)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help(rt, cmd):
    res = rt.run([cmd, "--help"], check=True)
    assert cmd in res.stdout, describe(res)
    # help on --help is not an error
    assert "error" not in res.stderr.lower(), describe(res)


@pytest.mark.parametrize("cmd", ["foo", "crate", "-"])
def test_unknown_command(rt, cmd):
    rt.run([cmd], check=False)


@pytest.mark.parametrize("args", [
    ["--bogus", "list"],
    ["list", "--bogus"],
    ["create", "--bogus", "x"],
    ["delete", "--no-such-flag", "x"],
    ["kill", "--bogus", "x"],
    ["state", "-Z", "x"],
])
def test_unknown_flag(rt, args):
    rt.run(args, check=False)
    rt.assert_clean()


@pytest.mark.parametrize("cmd", NEEDS_ID)
def test_missing_id(rt, cmd):
    rt.run([cmd], check=False)


@pytest.mark.parametrize("cmd", ["start", "state", "delete"])
def test_too_many_ids(rt, cmd):
    rt.run([cmd, "a", "b"], check=False)


def test_bad_log_format_rejected(rt):
    rt.run(["--log-format", "bogus", "list"], check=False)


@pytest.mark.parametrize("flag", [["--debug"], ["--systemd-cgroup"],
                                  ["--log-format", "text"],
                                  ["--log-format", "json"]])
def test_global_flags_accepted(rt, flag):
    res = rt.run(["list"], global_args=flag, check=True)
    assert "ID" in res.stdout


def test_log_json_format(rt, tmp_path):
    log = tmp_path / "krunc.log"
    res = rt.run(["state", "nope"], global_args=["--log", str(log),
                                                  "--log-format", "json"])
    assert res.returncode != 0
    lines = [l for l in log.read_text().splitlines() if l.strip()]
    assert lines, "nothing written to --log"
    entries = [json.loads(l) for l in lines]
    errors = [e for e in entries if e.get("level") == "error"]
    assert errors, entries
    assert errors[-1].get("msg"), errors
    assert "time" in errors[-1]


def test_log_text_format(rt, tmp_path):
    log = tmp_path / "krunc.log"
    res = rt.run(["state", "nope"], global_args=["--log", str(log)])
    assert res.returncode != 0
    text = log.read_text()
    assert "level=error" in text, text
    assert 'msg="' in text, text


@pytest.mark.krunc_only
def test_unknown_container_message(rt):
    res = rt.run(["state", "no-such-ctr"], check=False)
    assert "no-such-ctr" in res.stderr, res.stderr
    assert "does not exist" in res.stderr, res.stderr


def test_features(rt):
    res = rt.run(["features"], check=True)
    feat = json.loads(res.stdout)
    assert feat["ociVersionMin"].startswith("1.")
    assert feat["ociVersionMax"].startswith("1.")
    assert set(feat["hooks"]) >= {"prestart", "createRuntime", "createContainer",
                                  "startContainer", "poststart", "poststop"}
    assert {"ro", "nosuid", "nodev", "noexec", "bind", "rbind"} <= set(feat["mountOptions"])
    assert {"pid", "network", "mount", "ipc", "uts", "user", "cgroup"} <= \
        set(feat["linux"]["namespaces"])


@pytest.mark.krunc_only
def test_features_lists_time_namespace_and_executors(rt):
    feat = json.loads(rt.run(["features"], check=True).stdout)
    assert "time" in feat["linux"]["namespaces"]

    def executor_values(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if "executor" in k.lower():
                    yield json.dumps(v)
                yield from executor_values(v)
        elif isinstance(node, list):
            for v in node:
                yield from executor_values(v)

    found = list(executor_values(feat))
    assert found, "no key naming the executors in features: %s" % feat
    assert any("default" in v for v in found), found


def test_list_empty(rt):
    res = rt.run(["list", "-q"], check=True)
    assert res.stdout.strip() == ""
    res = rt.run(["list", "--format", "json"], check=True)
    assert json.loads(res.stdout) in (None, [])
