"""OCI hooks: each of the six runs at its point, with the state on stdin."""

import json
import os

import pytest

from conftest import describe, ns_inode, pid_alive, skip_on_runc

HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer",
         "poststart", "poststop"]
# hooks that run in the container's mount namespace; the others run in the runtime's
IN_CONTAINER = {"createContainer", "startContainer"}

# Runs with /bin/sh: the host's for runtime-namespace hooks, busybox's in the
# container.  $1 is the hook's name, $2 the output dir.  It records the state
# from stdin, its mount namespace, argv, env, and appends to a shared order log.
RECORDER = (
    'cat > "$2/$1.json"; '
    'readlink /proc/self/ns/mnt > "$2/$1.mnt"; '
    'echo "$0 $*" > "$2/$1.argv"; '
    'env > "$2/$1.env"; '
    'echo "$1" >> "$2/order"'
)


class HookSetup:
    """Adds recorder hooks to a bundle and reads back what they wrote."""

    def __init__(self, bundle):
        self.bundle = bundle
        # same path inside and outside: startContainer runs after pivot_root
        self.out = bundle.path / "hook-out"
        self.out.mkdir()
        os.chmod(self.out, 0o777)
        bundle.add_bind(self.out, str(self.out), ["rbind", "rw"])

    def hook(self, name, script=RECORDER, timeout=None, extra_env=()):
        h = {
            "path": "/bin/sh",
            "args": ["sh", "-c", script, name, name, str(self.out)],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOOK_VAR=%s-value" % name,
                    *extra_env],
        }
        if timeout is not None:
            h["timeout"] = timeout
        self.bundle.config.setdefault("hooks", {}).setdefault(name, []).append(h)
        return h

    def all(self):
        for name in HOOKS:
            self.hook(name)

    def ran(self, name):
        return (self.out / ("%s.mnt" % name)).exists()

    def state(self, name):
        return json.loads((self.out / ("%s.json" % name)).read_text())

    def mnt(self, name):
        return (self.out / ("%s.mnt" % name)).read_text().strip()

    def order(self):
        p = self.out / "order"
        return p.read_text().split() if p.exists() else []


@pytest.fixture
def hooks(bundle):
    return HookSetup(bundle)


def test_hooks_namespaces(rt, bundle, hooks, cid):
    """Every hook runs, each in the right mount namespace; poststop on delete."""
    hooks.all()
    bundle.sh('echo process >> "%s/order"; exec sleep 1000' % hooks.out)
    host_mnt = ns_inode("self", "mnt")

    rt.create(cid, bundle)
    pid = rt.state(cid)["pid"]
    ctr_mnt = ns_inode(pid, "mnt")
    assert ctr_mnt != host_mnt
    after_create = hooks.order()
    assert {"prestart", "createRuntime", "createContainer"} <= set(after_create)
    assert "startContainer" not in after_create
    assert after_create.index("createRuntime") < after_create.index("createContainer")
    assert after_create.index("prestart") < after_create.index("createContainer")

    rt.start(cid)
    after_start = hooks.order()
    assert "startContainer" in after_start and "poststart" in after_start, after_start
    if "process" in after_start:
        assert after_start.index("startContainer") < after_start.index("process")
    assert not hooks.ran("poststop")

    rt.delete(cid, force=True)
    assert hooks.order()[-1] == "poststop"
    assert sorted(hooks.order()) == sorted(HOOKS + ["process"])

    for name in HOOKS:
        want = ctr_mnt if name in IN_CONTAINER else host_mnt
        assert hooks.mnt(name) == want, "%s ran in the wrong mount namespace" % name


@skip_on_runc("runc 1.1.5 runs poststart hooks during create, not start")
def test_hooks_points_strict(rt, bundle, hooks, cid):
    """The spec's order: poststart only after start, never during create."""
    hooks.all()
    bundle.sh('echo process >> "%s/order"; exec sleep 1000' % hooks.out)
    rt.create(cid, bundle)
    assert sorted(hooks.order()) == sorted(["prestart", "createRuntime", "createContainer"])
    rt.start(cid)
    order = hooks.order()
    assert order[3] == "startContainer", order
    assert "poststart" in order
    rt.delete(cid, force=True)
    assert hooks.order()[-1] == "poststop"


def _check_states(hooks, bundle, cid, pid, names):
    for name in names:
        st = hooks.state(name)
        assert st["id"] == cid, (name, st)
        assert os.path.realpath(st["bundle"]) == os.path.realpath(bundle.path), (name, st)
        assert st["ociVersion"].startswith("1."), (name, st)
        assert st["status"] in ("creating", "created", "running", "stopped"), (name, st)
        if name != "poststop":
            assert st["pid"] == pid, (name, st)


def test_hook_state_on_stdin(rt, bundle, hooks, cid):
    hooks.all()
    bundle.set_args("sleep", "1000")
    rt.create(cid, bundle)
    pid = rt.state(cid)["pid"]
    rt.start(cid)
    rt.delete(cid, force=True)
    _check_states(hooks, bundle, cid, pid, [h for h in HOOKS if h not in IN_CONTAINER])
    assert hooks.state("createRuntime")["status"] == "creating"
    assert hooks.state("poststop")["status"] == "stopped"


@skip_on_runc("runc 1.1.5 gives in-container hooks the pid as seen inside (1), "
              "and poststart runs during create with status 'created'")
def test_hook_state_on_stdin_strict(rt, bundle, hooks, cid):
    hooks.all()
    bundle.set_args("sleep", "1000")
    rt.create(cid, bundle)
    pid = rt.state(cid)["pid"]
    rt.start(cid)
    rt.delete(cid, force=True)
    # the pid is the host's view of the container process, for every hook
    _check_states(hooks, bundle, cid, pid, HOOKS)
    assert hooks.state("poststart")["status"] == "running"


def test_hook_args_and_env(rt, bundle, hooks, cid):
    hooks.hook("prestart", extra_env=["SECOND=two words"])
    bundle.set_args("true")
    rt.create(cid, bundle)
    argv = (hooks.out / "prestart.argv").read_text().split()
    assert argv == ["prestart", "prestart", str(hooks.out)]
    env = (hooks.out / "prestart.env").read_text().splitlines()
    assert "HOOK_VAR=prestart-value" in env
    assert "SECOND=two words" in env
    assert "PATH=/usr/sbin:/usr/bin:/sbin:/bin" in env
    # only the hook's own env, nothing of the runtime's
    assert not any(l.startswith("KRUNC_ITEST") for l in env)
    rt.delete(cid, force=True)


def test_multiple_hooks_run_in_order(rt, bundle, hooks, cid):
    for i in range(3):
        hooks.hook("prestart", script='echo "prestart-%d" >> "$2/order"' % i)
    bundle.set_args("true")
    rt.create(cid, bundle)
    assert hooks.order() == ["prestart-0", "prestart-1", "prestart-2"]
    rt.delete(cid, force=True)


def test_hooks_with_run(rt, bundle, hooks, cid):
    hooks.all()
    bundle.sh('echo process >> "%s/order"' % hooks.out)
    res = rt.run_container(cid, bundle)
    assert res.returncode == 0, describe(res)
    order = hooks.order()
    assert sorted(order) == sorted(HOOKS + ["process"])
    assert order[-1] == "poststop"
    assert order.index("startContainer") < order.index("process")
    rt.assert_clean()


@pytest.mark.parametrize("name", ["prestart", "createRuntime", "createContainer"])
def test_failing_create_hook(rt, bundle, hooks, cid, name):
    hooks.hook(name, script="exit 3")
    bundle.set_args("sleep", "1000")
    rt.create(cid, bundle, check=False)
    rt.assert_clean()
    # and the id can be used again
    del bundle.config["hooks"]
    rt.create(cid, bundle)
    rt.delete(cid, force=True)


@pytest.mark.parametrize("name", ["prestart", "createRuntime"])
def test_failing_create_hook_leaves_no_process(rt, bundle, hooks, cid, name):
    # the recorder runs first and gives away the container's pid
    hooks.hook("createRuntime")
    hooks.hook(name, script="exit 1")
    bundle.set_args("sleep", "1000")
    rt.create(cid, bundle, check=False)
    rt.assert_clean()
    if hooks.ran("createRuntime"):
        pid = hooks.state("createRuntime")["pid"]
        assert not pid_alive(pid), "container init %d survived a failed create" % pid


def test_failing_hook_with_run(rt, bundle, hooks, cid):
    hooks.hook("createRuntime", script="exit 1")
    bundle.sh('echo process >> "%s/order"' % hooks.out)
    res = rt.run_container(cid, bundle)
    assert res.returncode != 0
    assert res.stderr.strip()
    assert "process" not in hooks.order()
    rt.assert_clean()


def test_failing_start_container_hook(rt, bundle, hooks, cid):
    hooks.hook("startContainer", script="exit 1")
    bundle.sh('echo process >> "%s/order"; exec sleep 1000' % hooks.out)
    rt.create(cid, bundle)
    pid = rt.state(cid)["pid"]
    rt.start(cid, check=None)
    # the user process never runs and the container does not stay running
    rt.wait_stopped(cid)
    assert "process" not in hooks.order()
    rt.delete(cid, force=True)
    assert not pid_alive(pid)
    rt.assert_clean()


@skip_on_runc("runc 1.1.5 start exits 0 when a startContainer hook fails")
def test_failing_start_container_hook_fails_start(rt, bundle, hooks, cid):
    hooks.hook("startContainer", script="exit 1")
    bundle.sh('echo process >> "%s/order"; exec sleep 1000' % hooks.out)
    rt.create(cid, bundle)
    rt.start(cid, check=False)
    assert "process" not in hooks.order()
    rt.delete(cid, force=True)
    rt.assert_clean()


def test_failing_poststart_hook_cleans_up(rt, bundle, hooks, cid):
    hooks.hook("poststart", script="exit 1")
    bundle.set_args("sleep", "1000")
    rt.create(cid, bundle, check=None)
    if rt.leftovers():
        rt.start(cid, check=None)
    rt.delete(cid, force=True, check=None)
    rt.assert_clean()


@skip_on_runc("runc 1.1.5 runs poststart during create and fails the create")
def test_failing_poststart_hook_is_a_warning(rt, bundle, hooks, cid):
    # spec: a failing poststart hook is logged; the lifecycle goes on
    hooks.hook("poststart", script="exit 1")
    bundle.set_args("sleep", "1000")
    rt.create(cid, bundle)
    rt.start(cid)
    assert rt.status(cid) == "running"
    rt.delete(cid, force=True)


def test_failing_poststop_does_not_fail_delete(rt, bundle, hooks, cid):
    hooks.hook("poststop", script="exit 1")
    bundle.set_args("true")
    rt.start_detached(cid, bundle)
    rt.wait_stopped(cid)
    rt.delete(cid)
    rt.assert_clean()


def test_poststop_runs_on_delete_of_stopped_container(rt, bundle, hooks, cid):
    hooks.hook("poststop")
    bundle.set_args("true")
    rt.start_detached(cid, bundle)
    rt.wait_stopped(cid)
    assert not hooks.ran("poststop")
    rt.delete(cid)
    assert hooks.ran("poststop")
    assert hooks.state("poststop")["id"] == cid


def test_hook_timeout(rt, bundle, hooks, cid):
    # would succeed if the runtime waited the 20 s out
    hooks.hook("prestart", script="exec sleep 20", timeout=1)
    bundle.set_args("true")
    rt.create(cid, bundle, check=False)
    rt.assert_clean()


def test_hook_within_timeout(rt, bundle, hooks, cid):
    hooks.hook("prestart", timeout=30)
    bundle.set_args("true")
    rt.create(cid, bundle)
    assert hooks.ran("prestart")
    rt.delete(cid, force=True)


def test_hook_missing_binary(rt, bundle, hooks, cid):
    bundle.config["hooks"] = {"createRuntime": [{"path": "/no/such/hook"}]}
    bundle.set_args("true")
    rt.create(cid, bundle, check=False)
    rt.assert_clean()
