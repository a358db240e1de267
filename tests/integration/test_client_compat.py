"""The details of krunc's command line that podman/conmon and containerd's
runc v2 shim depend on, checked directly on krunc (the client tests in
test_podman.py and test_containerd.py show them end to end). Each is what
runc does; the tests also pass with KRUNC=/usr/sbin/runc."""

import json
import os
import signal

import pytest

from clients_util import KRUNC, krunc_quiet, make_bundle, run_cmd, wait_until


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False

pytestmark = pytest.mark.clients


def test_delete_force_of_missing_container_succeeds(tmp_path):
    # podman runs `delete --force` to clean up after a create that failed
    r = run_cmd([KRUNC, "--root", tmp_path, "delete", "--force", "no-such-ctr"], check=False)
    assert (r.rc, r.out, r.err) == (0, "", ""), r.describe()
    # without --force it is still an error that says the container does not exist,
    # which is what the runc shim looks for to ignore it
    r = run_cmd([KRUNC, "--root", tmp_path, "delete", "no-such-ctr"], check=False)
    assert r.rc == 1 and "does not exist" in r.err, r.describe()


def test_kill_all_of_stopped_container_kills_what_is_left(tmp_path):
    """Without a pid namespace, the init's children outlive it. The runc
    shim sends `kill --all ID 9` after the init has exited to kill them: that
    must signal what is left in the cgroup, not fail with "not running"."""
    root = tmp_path / "root"
    bundle = make_bundle(tmp_path / "bundle",
                         ["sh", "-c", "sleep 1000 & echo $! > /tmp/child; exit 0"],
                         namespaces=("ipc", "uts", "mount", "network"))
    krunc_quiet("run", "-d", "-b", bundle, "kall", root=root)
    child_file = bundle / "rootfs" / "tmp" / "child"
    child = int(wait_until(lambda: child_file.exists() and child_file.read_text().strip(),
                           "the init to start its child"))
    try:
        wait_until(lambda: json.loads(run_cmd([KRUNC, "--root", root, "state", "kall"]).out)["status"]
                   == "stopped", "the init to exit")
        assert pid_alive(child)
        r = run_cmd([KRUNC, "--root", root, "kill", "--all", "kall", "9"], check=False)
        assert r.rc == 0, r.describe()
        wait_until(lambda: not pid_alive(child), "the left-over child to die")
    finally:
        if pid_alive(child):
            os.kill(child, signal.SIGKILL)
        run_cmd([KRUNC, "--root", root, "delete", "--force", "kall"], check=False)
