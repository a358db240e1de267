"""Container lifecycle: create, start, state, kill, delete, run, list, spec."""

import json
import os
import signal
import subprocess

import pytest

from conftest import (COMMAND_TIMEOUT, describe, pid_alive, skip_on_runc,
                      wait_file, wait_for)

# a container init that reports the signals it gets and exits on TERM
TRAP_SCRIPT = (
    'trap "echo TERM > /shared/sig; exit 0" TERM; '
    'trap "echo USR1 > /shared/sig; exit 0" USR1; '
    'trap "echo HUP > /shared/sig; exit 0" HUP; '
    'echo ready > /shared/ready; '
    'while :; do sleep 1000 & wait; done')


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return None


def test_create_start_state(rt, bundle, cid):
    shared = bundle.shared
    bundle.sh("echo yes > /shared/started; exec sleep 1000")
    rt.create(cid, bundle)

    st = rt.state(cid)
    assert st["id"] == cid
    assert st["status"] == "created"
    assert st["ociVersion"].startswith("1.")
    assert os.path.realpath(st["bundle"]) == os.path.realpath(bundle.path)
    pid = st["pid"]
    assert isinstance(pid, int) and pid > 1
    assert pid_alive(pid), "pid %d of a created container is not alive" % pid
    # the user process has not run yet
    assert not (shared / "started").exists()
    # the init is already in the container's namespaces
    assert os.readlink("/proc/%d/ns/pid" % pid) != os.readlink("/proc/self/ns/pid")

    rt.start(cid)
    wait_file(shared / "started")
    assert rt.status(cid) == "running"
    # the pid in state is the real container process, which exec'd the args
    wait_for(lambda: cmdline(pid) == b"sleep\x001000\x00", what="exec of sleep")
    assert rt.state(cid)["pid"] == pid

    rt.kill(cid, "KILL")
    rt.wait_stopped(cid)
    assert not pid_alive(pid)
    rt.delete(cid)
    rt.run(["state", cid], check=False)
    rt.assert_clean()


def test_start_returns_while_container_runs(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    st = rt.start_detached(cid, bundle)
    assert st["status"] == "running"
    assert pid_alive(st["pid"])
    rt.delete(cid, force=True)


def test_separate_processes(rt, bundle, cid):
    """create, start, kill and delete each from a fresh runtime process."""
    bundle.set_args("sleep", "1000")
    bundle.write()
    # create in its own session, as a shell or a container manager would
    create = subprocess.Popen(rt.argv(["create", "-b", str(bundle.path), cid]),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    assert create.wait(timeout=COMMAND_TIMEOUT) == 0
    pid = rt.state(cid)["pid"]
    # the runtime process that created it is gone, the container is not
    assert pid_alive(pid)
    assert not pid_alive(create.pid)
    assert rt.status(cid) == "created"
    rt.start(cid)
    assert rt.status(cid) == "running"
    rt.kill(cid, "KILL")
    rt.wait_stopped(cid)
    rt.delete(cid)
    assert not pid_alive(pid)
    rt.assert_clean()


@pytest.mark.parametrize("sig,expected", [
    ("TERM", "TERM"), ("SIGTERM", "TERM"), ("15", "TERM"),
    ("USR1", "USR1"), ("SIGUSR1", "USR1"), (str(int(signal.SIGUSR1)), "USR1"),
    ("HUP", "HUP"), ("SIGHUP", "HUP"), ("1", "HUP"),
])
def test_kill_signal_names(rt, bundle, sig, expected, cid):
    shared = bundle.shared
    bundle.sh(TRAP_SCRIPT)
    rt.start_detached(cid, bundle)
    wait_file(shared / "ready")
    rt.kill(cid, sig)
    rt.wait_stopped(cid)
    assert (shared / "sig").read_text().strip() == expected
    rt.delete(cid)


def test_kill_default_is_term(rt, bundle, cid):
    shared = bundle.shared
    bundle.sh(TRAP_SCRIPT)
    rt.start_detached(cid, bundle)
    wait_file(shared / "ready")
    rt.kill(cid)
    rt.wait_stopped(cid)
    assert (shared / "sig").read_text().strip() == "TERM"
    rt.delete(cid)


@pytest.mark.parametrize("sig", ["FOO", "SIGFOO", "SIG", "99", "9x", "-1",
                                 "TERM1", "SIGTERMX"])
def test_kill_bad_signal(rt, bundle, sig, cid):
    bundle.set_args("sleep", "1000")
    st = rt.start_detached(cid, bundle)
    rt.kill(cid, sig, check=False)
    assert rt.status(cid) == "running"
    assert pid_alive(st["pid"])
    rt.delete(cid, force=True)


def test_kill_created_container(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    rt.create(cid, bundle)
    pid = rt.state(cid)["pid"]
    rt.kill(cid, "KILL")
    rt.wait_stopped(cid)
    assert not pid_alive(pid)
    rt.delete(cid)
    rt.assert_clean()


def _procs_in_cgroup_of(pid):
    """Pids whose /proc/PID/cgroup is identical to ``pid``'s."""
    with open("/proc/%d/cgroup" % pid) as f:
        want = f.read()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cgroup" % entry) as f:
                if f.read() == want and pid_alive(int(entry)):
                    found.append(int(entry))
        except OSError:
            pass
    return found


def _procs_in_mnt_ns(ns):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink("/proc/%s/ns/mnt" % entry) == ns:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_kill_all(rt, bundle, cid):
    # without a pid namespace, killing init does not take the others along,
    # so only --all can reach the two background sleeps
    bundle.remove_namespace("pid")
    shared = bundle.shared
    bundle.sh("sleep 1000 & sleep 1000 & echo ready > /shared/ready; wait")
    st = rt.start_detached(cid, bundle)
    mnt_ns = os.readlink("/proc/%d/ns/mnt" % st["pid"])
    try:
        wait_file(shared / "ready")
        with open("/proc/%d/cgroup" % st["pid"]) as f, open("/proc/self/cgroup") as g:
            assert f.read() != g.read(), "the container shares our cgroup"
        procs = wait_for(lambda: (lambda p: p if len(p) >= 3 else None)(
            _procs_in_cgroup_of(st["pid"])), what="three container processes")
        assert st["pid"] in procs
        rt.kill(cid, "KILL", all_=True)
        wait_for(lambda: not any(pid_alive(p) for p in procs),
                 what="every container process to die")
        rt.wait_stopped(cid)
        rt.delete(cid)
        rt.assert_clean()
    finally:
        # on failure, do not leave the orphaned sleeps on the host
        for p in _procs_in_mnt_ns(mnt_ns):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_stopped_and_delete(rt, bundle, cid):
    bundle.set_args("true")
    rt.start_detached(cid, bundle)
    rt.wait_stopped(cid)
    st = rt.state(cid)
    assert st["status"] == "stopped"
    rt.delete(cid)
    rt.run(["state", cid], check=False)
    assert rt.run(["list", "-q"], check=True).stdout.strip() == ""
    rt.assert_clean()


def test_delete_running_requires_force(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    st = rt.start_detached(cid, bundle)
    rt.delete(cid, check=False)
    assert rt.status(cid) == "running"
    assert pid_alive(st["pid"])
    rt.delete(cid, force=True)
    wait_for(lambda: not pid_alive(st["pid"]), what="container process to die")
    rt.run(["state", cid], check=False)
    rt.assert_clean()


def test_delete_force_short_flag(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    st = rt.start_detached(cid, bundle)
    rt.run(["delete", "-f", cid], check=True)
    wait_for(lambda: not pid_alive(st["pid"]), what="container process to die")
    rt.assert_clean()


def test_start_twice_fails(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    rt.start_detached(cid, bundle)
    rt.start(cid, check=False)
    assert rt.status(cid) == "running"
    rt.delete(cid, force=True)


def test_start_stopped_fails(rt, bundle, cid):
    bundle.set_args("true")
    rt.start_detached(cid, bundle)
    rt.wait_stopped(cid)
    rt.start(cid, check=False)
    rt.delete(cid)


def test_duplicate_create_fails(rt, bundle, make_bundle, cid):
    bundle.set_args("sleep", "1000")
    rt.create(cid, bundle)
    st = rt.state(cid)
    other = make_bundle()
    other.set_args("sleep", "1000")
    rt.create(cid, other, check=False)
    # the first container is untouched
    st2 = rt.state(cid)
    assert st2["pid"] == st["pid"]
    assert st2["status"] == "created"
    assert os.path.realpath(st2["bundle"]) == os.path.realpath(bundle.path)
    assert pid_alive(st["pid"])
    rt.delete(cid, force=True)
    rt.assert_clean()


BAD_IDS = ["a/b", "..", ".", "", "../escape", "a b", "a\nb", "x" * 300]


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda s: repr(s)[:20])
def test_bad_id_rejected(rt, bundle, tmp_path, bad):
    bundle.set_args("true")
    rt.create(bad, bundle, check=False)
    rt.assert_clean()
    # nothing was created next to --root either
    assert not (tmp_path / "escape").exists()
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("cmd", ["state", "start", "kill", "delete"])
@pytest.mark.parametrize("bad", ["..", "a/b"])
def test_bad_id_other_commands(rt, cmd, bad):
    rt.root.mkdir(parents=True, exist_ok=True)
    rt.run([cmd, bad], check=False)
    assert rt.root.is_dir()


@pytest.mark.parametrize("cmd", [["state"], ["start"], ["kill"], ["kill", "KILL"],
                                 ["delete"]])
def test_unknown_id(rt, cmd):
    rt.run(cmd[:1] + ["no-such-container"] + cmd[1:], check=False)


@pytest.mark.parametrize("code", [0, 1, 7, 255])
def test_run_exit_code(rt, bundle, code, cid):
    bundle.sh("exit %d" % code)
    res = rt.run_container(cid, bundle)
    assert res.returncode == code, describe(res)
    rt.assert_clean()


def test_run_stdout_stderr(rt, bundle, cid):
    bundle.sh("echo to-out; echo to-err >&2")
    res = rt.run_container(cid, bundle)
    assert res.returncode == 0, describe(res)
    assert res.stdout == "to-out\n"
    assert "to-err\n" in res.stderr


def test_run_stdin_passthrough(rt, bundle, tmp_path, cid):
    inp = tmp_path / "input"
    inp.write_text("hello from stdin\n")
    bundle.set_args("cat")
    with open(inp) as f:
        res = rt.run_container(cid, bundle, stdin=f)
    assert res.returncode == 0, describe(res)
    assert res.stdout == "hello from stdin\n"


def test_run_killed_by_signal_outside_pid_ns(rt, bundle, cid):
    # not pid 1, so the process can be killed by its own SIGKILL
    bundle.remove_namespace("pid")
    bundle.sh("kill -KILL $$")
    res = rt.run_container(cid, bundle)
    assert res.returncode == 128 + signal.SIGKILL, describe(res)
    rt.assert_clean()


def test_run_killed_by_kill_command(rt, bundle, cid):
    bundle.sh("echo ready; exec sleep 1000")
    bundle.write()
    p = rt.popen(["run", "-b", str(bundle.path), cid])
    try:
        wait_for(lambda: "ready" in p.out_path.read_text(), what="container ready")
        rt.kill(cid, "KILL")
        rc = p.wait(timeout=COMMAND_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert rc == 128 + signal.SIGKILL
    rt.assert_clean()


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGTERM, signal.SIGHUP])
def test_run_forwards_signals(rt, bundle, sig, cid):
    name = signal.Signals(sig).name[3:]
    bundle.sh('trap "exit 42" %s; echo ready; while :; do sleep 1000 & wait; done'
              % name)
    bundle.write()
    p = rt.popen(["run", "-b", str(bundle.path), cid])
    try:
        wait_for(lambda: "ready" in p.out_path.read_text(), what="container ready")
        p.send_signal(sig)
        rc = p.wait(timeout=COMMAND_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert rc == 42
    rt.assert_clean()


def test_run_nonexistent_executable(rt, bundle, cid):
    bundle.set_args("/no/such/binary")
    res = rt.run_container(cid, bundle)
    assert res.returncode != 0
    assert res.stderr.strip()
    rt.assert_clean()


def test_run_detached(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    res = rt.run_container(cid, bundle, "-d")
    assert res.returncode == 0, describe(res)
    st = rt.state(cid)
    assert st["status"] == "running"
    assert pid_alive(st["pid"])
    rt.kill(cid, "KILL")
    rt.wait_stopped(cid)
    rt.delete(cid)
    rt.assert_clean()


def test_run_detached_long_flag(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    rt.run_container(cid, bundle, "--detach", check=True)
    assert rt.status(cid) == "running"
    rt.delete(cid, force=True)


@pytest.mark.parametrize("how", ["create", "run-d"])
def test_pid_file(rt, bundle, tmp_path, how, cid):
    pidfile = tmp_path / "ctr.pid"
    bundle.set_args("sleep", "1000")
    if how == "create":
        rt.create(cid, bundle, "--pid-file", str(pidfile))
    else:
        rt.run_container(cid, bundle, "-d", "--pid-file", str(pidfile), check=True)
    assert int(pidfile.read_text().strip()) == rt.state(cid)["pid"]
    rt.delete(cid, force=True)


def test_list(rt, make_bundle):
    one, two = rt.new_id("one"), rt.new_id("two")
    b1, b2 = make_bundle(), make_bundle()
    for b in (b1, b2):
        b.set_args("sleep", "1000")
    rt.create(one, b1)
    rt.start_detached(two, b2)
    pids = {c: rt.state(c)["pid"] for c in (one, two)}

    quiet = rt.run(["list", "-q"], check=True).stdout.split()
    assert sorted(quiet) == sorted([one, two])

    table = rt.run(["list"], check=True).stdout.splitlines()
    header = table[0].split()
    assert header[:4] == ["ID", "PID", "STATUS", "BUNDLE"]
    rows = {l.split()[0]: l.split() for l in table[1:] if l.strip()}
    assert set(rows) == {one, two}
    assert rows[one][1:3] == [str(pids[one]), "created"]
    assert rows[two][1:3] == [str(pids[two]), "running"]
    assert rows[one][3] == str(b1.path)

    for fmt_args in (["--format", "json"], ["-f", "json"]):
        entries = json.loads(rt.run(["list", *fmt_args], check=True).stdout)
        by_id = {e["id"]: e for e in entries}
        assert set(by_id) == {one, two}
        assert by_id[one]["status"] == "created"
        assert by_id[two]["status"] == "running"
        assert by_id[two]["pid"] == pids[two]
        assert os.path.realpath(by_id[two]["bundle"]) == os.path.realpath(b2.path)

    table_fmt = rt.run(["list", "--format", "table"], check=True).stdout
    assert table_fmt.split() == rt.run(["list"], check=True).stdout.split()
    rt.run(["list", "--format", "yaml"], check=False)

    rt.delete(one, force=True)
    rt.delete(two, force=True)
    assert rt.run(["list", "-q"], check=True).stdout.strip() == ""


def test_spec(rt, tmp_path, make_bundle):
    d = tmp_path / "specdir"
    d.mkdir()
    rt.run(["spec", "-b", str(d)], check=True)
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["ociVersion"].startswith("1.")
    assert cfg["process"]["args"] == ["sh"]
    assert cfg["root"]["path"] == "rootfs"
    types = [n["type"] for n in cfg["linux"]["namespaces"]]
    assert {"pid", "mount"} <= set(types)

    # the default spec really runs in a busybox bundle
    b = make_bundle()
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sh", "-c", "echo $$"]
    b.config = cfg
    assert rt.run_ok(b).strip() == "1"


def test_spec_in_cwd(rt, tmp_path):
    d = tmp_path / "cwd"
    d.mkdir()
    rt.run(["spec"], check=True, cwd=d)
    json.loads((d / "config.json").read_text())


def test_spec_does_not_overwrite(rt, tmp_path):
    d = tmp_path / "specdir"
    d.mkdir()
    (d / "config.json").write_text("precious")
    rt.run(["spec", "-b", str(d)], check=False)
    assert (d / "config.json").read_text() == "precious"


def test_spec_rootless(rt, tmp_path):
    d = tmp_path / "specdir"
    d.mkdir()
    rt.run(["spec", "--rootless", "-b", str(d)], check=True)
    cfg = json.loads((d / "config.json").read_text())
    assert "user" in [n["type"] for n in cfg["linux"]["namespaces"]]
    assert cfg["linux"]["uidMappings"] and cfg["linux"]["gidMappings"]


def test_failed_create_leaves_nothing(rt, bundle, cid):
    bundle.add_mount("/mnt", "nosuchfs", "none")
    bundle.set_args("true")
    rt.create(cid, bundle, check=False)
    rt.assert_clean()
    # and the id is free again
    bundle.config["mounts"].pop()
    rt.create(cid, bundle)
    rt.delete(cid, force=True)


def test_failed_run_leaves_nothing(rt, bundle, cid):
    bundle.add_mount("/mnt", "nosuchfs", "none")
    bundle.set_args("true")
    rt.run_container(cid, bundle, check=False)
    rt.assert_clean()
    rt.run_container(cid, bundle, "-d", check=False)
    rt.assert_clean()


def test_container_killed_from_host_is_stopped(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    pid = rt.start_detached(cid, bundle)["pid"]
    os.kill(pid, signal.SIGKILL)
    rt.wait_stopped(cid)
    rt.delete(cid)
    rt.assert_clean()


@skip_on_runc("runc 1.1.5 races here: sometimes every concurrent create of "
              "one id fails and nothing is left")
def test_concurrent_creates_of_one_id(rt, make_bundle, cid):
    bundles = [make_bundle() for _ in range(4)]
    procs = []
    for b in bundles:
        b.set_args("sleep", "1000")
        b.write()
        procs.append(rt.popen(["create", "--bundle", str(b.path), cid]))
    codes = [p.wait(timeout=COMMAND_TIMEOUT) for p in procs]
    assert codes.count(0) == 1, codes
    assert rt.leftovers() == [cid]
    st = rt.state(cid)
    assert st["status"] == "created"
    assert pid_alive(st["pid"])
    winner = bundles[codes.index(0)]
    assert os.path.realpath(st["bundle"]) == os.path.realpath(winner.path)
    rt.delete(cid, force=True)
    rt.assert_clean()


def test_duplicate_create_message(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    rt.create(cid, bundle)
    res = rt.create(cid, bundle, check=False)
    assert "already exists" in res.stderr, res.stderr
    rt.delete(cid, force=True)


def test_unknown_id_message(rt):
    res = rt.run(["state", "no-such-ctr"], check=False)
    assert "does not exist" in res.stderr, res.stderr


@pytest.mark.krunc_only
def test_delete_running_message(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    rt.start_detached(cid, bundle)
    res = rt.delete(cid, check=False)
    assert cid in res.stderr and "running" in res.stderr, res.stderr
    rt.delete(cid, force=True)


@pytest.mark.krunc_only
@pytest.mark.parametrize("sig", ["FOO", "SIGFOO", "9x"])
def test_bad_signal_message(rt, bundle, cid, sig):
    bundle.set_args("sleep", "1000")
    rt.start_detached(cid, bundle)
    res = rt.kill(cid, sig, check=False)
    assert sig in res.stderr and "signal" in res.stderr.lower(), res.stderr
    rt.delete(cid, force=True)


@pytest.mark.krunc_only
@pytest.mark.parametrize("bad", ["a/b", ".."])
def test_bad_id_message(rt, bundle, bad):
    bundle.set_args("true")
    res = rt.create(bad, bundle, check=False)
    assert "id" in res.stderr.lower(), res.stderr
