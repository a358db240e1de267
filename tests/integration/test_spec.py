"""config.json parsing: every bad input fails cleanly and names the problem.

Each bad spec must make `create` exit non-zero with a message on stderr and
leave nothing in --root.  Against krunc the message must also contain the
JSON path of the offending field (the krunc_only tests).
"""

import shutil

import pytest

from conftest import IS_KRUNC, describe, skip_on_runc


def set_path(cfg, path, value):
    """Set cfg[path] where path is a list of keys/indexes; create dicts on the way."""
    node = cfg
    for key in path[:-1]:
        if isinstance(key, str) and key not in node:
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def delete_path(cfg, path):
    node = cfg
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


def setter(*path_and_value):
    *path, value = path_and_value
    return lambda cfg: set_path(cfg, list(path), value)


def deleter(*path):
    return lambda cfg: delete_path(cfg, list(path))


def add_mount(**m):
    return lambda cfg: cfg["mounts"].insert(0, m)


# (test id, mutation of the default config, JSON path krunc must name)
BAD_SPECS = [
    ("ociVersion-2", setter("ociVersion", "2.0.0"), "ociVersion"),
    ("ociVersion-0.9", setter("ociVersion", "0.9.0"), "ociVersion"),
    ("ociVersion-number", setter("ociVersion", 1), "ociVersion"),
    ("ociVersion-missing", deleter("ociVersion"), "ociVersion"),
    ("process-not-object", setter("process", ["sh"]), "process"),
    ("args-not-array", setter("process", "args", "sh"), "process.args"),
    ("args-element-not-string", setter("process", "args", ["sh", 1]), "process.args"),
    ("args-empty", setter("process", "args", []), "process.args"),
    ("args-missing", deleter("process", "args"), "process.args"),
    ("env-not-array", setter("process", "env", "PATH=/bin"), "process.env"),
    ("env-element-not-string", setter("process", "env", [{"PATH": "/bin"}]), "process.env"),
    ("cwd-number", setter("process", "cwd", 1), "process.cwd"),
    ("cwd-relative", setter("process", "cwd", "tmp"), "process.cwd"),
    ("terminal-string", setter("process", "terminal", "yes"), "process.terminal"),
    ("user-not-object", setter("process", "user", 0), "process.user"),
    ("uid-string", setter("process", "user", "uid", "0"), "process.user.uid"),
    ("uid-negative", setter("process", "user", "uid", -1), "process.user.uid"),
    ("uid-float", setter("process", "user", "uid", 1.5), "process.user.uid"),
    ("gid-string", setter("process", "user", "gid", "root"), "process.user.gid"),
    ("additionalGids-not-array", setter("process", "user", "additionalGids", 5),
     "process.user.additionalGids"),
    ("additionalGids-element-string", setter("process", "user", "additionalGids", ["5"]),
     "process.user.additionalGids"),
    ("umask-string", setter("process", "user", "umask", "022"), "process.user.umask"),
    ("rlimits-not-array", setter("process", "rlimits", {}), "process.rlimits"),
    ("rlimit-type-unknown",
     setter("process", "rlimits", [{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]),
     "process.rlimits[0].type"),
    ("rlimit-soft-string",
     setter("process", "rlimits", [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": "10"}]),
     "process.rlimits[0].soft"),
    ("oomScoreAdj-string", setter("process", "oomScoreAdj", "5"), "process.oomScoreAdj"),
    ("root-missing", deleter("root"), "root"),
    ("root-path-number", setter("root", "path", 5), "root.path"),
    ("root-readonly-string", setter("root", "readonly", "true"), "root.readonly"),
    ("hostname-number", setter("hostname", 5), "hostname"),
    ("mounts-not-array", setter("mounts", {"destination": "/proc"}), "mounts"),
    ("mount-not-object", lambda c: c["mounts"].insert(0, "/proc"), "mounts[0]"),
    ("mount-destination-missing", add_mount(type="tmpfs", source="tmpfs"),
     "mounts[0].destination"),
    ("mount-destination-number", add_mount(destination=5, type="tmpfs", source="tmpfs"),
     "mounts[0].destination"),
    ("mount-options-not-array",
     add_mount(destination="/mnt", type="tmpfs", source="tmpfs", options="ro"),
     "mounts[0].options"),
    ("mount-option-not-string",
     add_mount(destination="/mnt", type="tmpfs", source="tmpfs", options=[1]),
     "mounts[0].options"),
    ("linux-not-object", setter("linux", []), "linux"),
    ("namespaces-not-array", setter("linux", "namespaces", {"type": "pid"}),
     "linux.namespaces"),
    ("namespace-type-unknown", setter("linux", "namespaces", [{"type": "bogus"}]),
     "linux.namespaces[0].type"),
    ("namespace-type-number", setter("linux", "namespaces", [{"type": 1}]),
     "linux.namespaces[0].type"),
    ("namespace-path-number", setter("linux", "namespaces", [{"type": "network", "path": 1}]),
     "linux.namespaces[0]"),
    ("uidMappings-not-array", setter("linux", "uidMappings", {}), "linux.uidMappings"),
    ("uidMapping-hostID-string",
     setter("linux", "uidMappings", [{"containerID": 0, "hostID": "1000", "size": 1}]),
     "linux.uidMappings[0].hostID"),
    ("gidMapping-size-string",
     setter("linux", "gidMappings", [{"containerID": 0, "hostID": 1000, "size": "1"}]),
     "linux.gidMappings[0].size"),
    ("devices-not-array", setter("linux", "devices", {}), "linux.devices"),
    ("device-major-string",
     setter("linux", "devices", [{"path": "/dev/x", "type": "c", "major": "1", "minor": 3}]),
     "linux.devices[0].major"),
    ("device-path-missing",
     setter("linux", "devices", [{"type": "c", "major": 1, "minor": 3}]),
     "linux.devices[0].path"),
    ("sysctl-not-object", setter("linux", "sysctl", ["net.ipv4.ip_forward=1"]),
     "linux.sysctl"),
    ("sysctl-value-number", setter("linux", "sysctl", {"net.ipv4.ip_forward": 1}),
     "linux.sysctl"),
    ("maskedPaths-not-array", setter("linux", "maskedPaths", "/proc/kcore"),
     "linux.maskedPaths"),
    ("readonlyPaths-element-number", setter("linux", "readonlyPaths", [1]),
     "linux.readonlyPaths"),
    ("cgroupsPath-number", setter("linux", "cgroupsPath", 5), "linux.cgroupsPath"),
    ("hooks-not-object", setter("hooks", []), "hooks"),
    ("hooks-prestart-not-array", setter("hooks", {"prestart": {"path": "/bin/true"}}),
     "hooks.prestart"),
    ("hook-path-missing", setter("hooks", {"prestart": [{"args": ["true"]}]}),
     "hooks.prestart[0].path"),
    ("hook-timeout-string",
     setter("hooks", {"poststart": [{"path": "/bin/true", "timeout": "5"}]}),
     "hooks.poststart[0].timeout"),
]

# cases runc 1.1.5 does not reject, but the issue requires krunc to
RUNC_ACCEPTS = {
    "ociVersion-2": "runc 1.1.5 does not check ociVersion",
    "ociVersion-0.9": "runc 1.1.5 does not check ociVersion",
    "ociVersion-missing": "runc 1.1.5 does not check ociVersion",
    "device-path-missing": "runc 1.1.5 accepts a device without a path",
}


def _params():
    for name, mutate, path in BAD_SPECS:
        marks = []
        if name in RUNC_ACCEPTS:
            marks.append(skip_on_runc(RUNC_ACCEPTS[name]))
        yield pytest.param(mutate, path, id=name, marks=marks)


def assert_create_fails(rt, bundle_path, cid):
    res = rt.run(["create", "--bundle", str(bundle_path), cid])
    assert res.returncode != 0, describe(res)
    assert res.stderr.strip(), "no message on stderr: " + describe(res)
    rt.assert_clean()
    return res


@pytest.mark.parametrize("mutate,path", list(_params()))
def test_bad_spec(rt, bundle, cid, mutate, path):
    bundle.set_args("true")
    mutate(bundle.config)
    bundle.write()
    assert_create_fails(rt, bundle.path, cid)


@pytest.mark.krunc_only
@pytest.mark.parametrize("mutate,path", list(_params()))
def test_bad_spec_names_json_path(rt, bundle, cid, mutate, path):
    bundle.set_args("true")
    mutate(bundle.config)
    bundle.write()
    res = assert_create_fails(rt, bundle.path, cid)
    assert path in res.stderr, "stderr does not name %r:\n%s" % (path, res.stderr)


BAD_JSON = [
    ("not-json", "{not json"),
    ("truncated", '{"ociVersion": "1.0.2", "process": {'),
    ("empty-file", ""),
    ("array-top-level", "[]"),
    ("string-top-level", '"hello"'),
]


@pytest.mark.parametrize("text", [t for _, t in BAD_JSON], ids=[n for n, _ in BAD_JSON])
def test_bad_json(rt, bundle, cid, text):
    bundle.write_raw(text)
    assert_create_fails(rt, bundle.path, cid)


@pytest.mark.krunc_only
@pytest.mark.parametrize("text", [t for _, t in BAD_JSON], ids=[n for n, _ in BAD_JSON])
def test_bad_json_names_file(rt, bundle, cid, text):
    bundle.write_raw(text)
    res = assert_create_fails(rt, bundle.path, cid)
    assert "config.json" in res.stderr, res.stderr


def test_missing_config(rt, bundle, cid):
    # no bundle.write(): the bundle has a rootfs but no config.json
    res = assert_create_fails(rt, bundle.path, cid)
    if IS_KRUNC:
        assert "config.json" in res.stderr, res.stderr


def test_missing_bundle_dir(rt, tmp_path, cid):
    res = assert_create_fails(rt, tmp_path / "no-such-bundle", cid)
    if IS_KRUNC:
        assert "no-such-bundle" in res.stderr, res.stderr


def test_missing_rootfs(rt, bundle, cid):
    bundle.config["root"]["path"] = "no-such-rootfs"
    bundle.set_args("true")
    bundle.write()
    res = assert_create_fails(rt, bundle.path, cid)
    if IS_KRUNC:
        assert "no-such-rootfs" in res.stderr, res.stderr


def test_rootfs_is_a_file(rt, bundle, cid):
    (bundle.path / "rootfile").write_text("not a directory")
    bundle.config["root"]["path"] = "rootfile"
    bundle.set_args("true")
    bundle.write()
    assert_create_fails(rt, bundle.path, cid)


def test_missing_rootfs_run(rt, bundle, cid):
    shutil.rmtree(bundle.rootfs)
    bundle.set_args("true")
    res = rt.run_container(cid, bundle)
    assert res.returncode != 0
    assert res.stderr.strip()
    rt.assert_clean()


# --- inputs that must be accepted -----------------------------------------


def test_unknown_fields_ignored(rt, bundle):
    bundle.config["someFutureField"] = {"x": [1, 2, 3]}
    bundle.config["process"]["someFutureField"] = True
    bundle.config["linux"]["someFutureField"] = "x"
    bundle.config["root"]["someFutureField"] = 1
    bundle.config["mounts"][0]["someFutureField"] = None
    bundle.sh("echo ok")
    assert rt.run_ok(bundle) == "ok\n"


@pytest.mark.parametrize("version", ["1.0.0", "1.0.2", "1.1.0", "1.2.0"])
def test_oci_versions_1x_accepted(rt, bundle, version):
    bundle.config["ociVersion"] = version
    bundle.sh("echo ok")
    assert rt.run_ok(bundle) == "ok\n"


def test_absolute_root_path(rt, bundle):
    bundle.config["root"]["path"] = str(bundle.rootfs)
    bundle.sh("echo ok")
    assert rt.run_ok(bundle) == "ok\n"


def test_relative_bundle_path(rt, bundle, cid):
    bundle.sh("echo ok")
    bundle.write()
    res = rt.run(["run", "--bundle", bundle.path.name, cid], cwd=bundle.path.parent)
    assert res.returncode == 0, describe(res)
    assert res.stdout == "ok\n"


def test_bundle_defaults_to_cwd(rt, bundle, cid):
    bundle.sh("echo ok")
    bundle.write()
    res = rt.run(["run", cid], cwd=bundle.path)
    assert res.returncode == 0, describe(res)
    assert res.stdout == "ok\n"


def test_minimal_linux_section(rt, bundle):
    # no mounts, no masked paths, only a mount namespace
    bundle.config["mounts"] = [{"destination": "/proc", "type": "proc", "source": "proc"}]
    bundle.config["linux"] = {"namespaces": [{"type": "mount"}, {"type": "pid"}]}
    del bundle.config["hostname"]  # no uts namespace
    bundle.sh("echo $$")
    assert rt.run_ok(bundle) == "1\n"
