"""The container process: args, env, cwd, user, umask, rlimits, oom, fds, stdio."""

import os
import shlex

import pytest

from conftest import describe, wait_for


def status_fields(text):
    """Parse /proc/PID/status text into {field: [values]}."""
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v.split()
    return out


# -- args, env, cwd -----------------------------------------------------------


def test_args_preserved_exactly(rt, bundle):
    weird = ["a b", "", "c\"d", "$HOME", "*", "tab\there", "--flag", "ünï"]
    bundle.set_args("sh", "-c", 'for a in "$@"; do printf "[%s]" "$a"; done', "sh", *weird)
    assert rt.run_ok(bundle) == "".join("[%s]" % a for a in weird)


def test_args_path_lookup(rt, bundle):
    # "echo" is found through PATH from process.env
    bundle.set_args("echo", "found")
    assert rt.run_ok(bundle) == "found\n"


def test_args_absolute_path(rt, bundle):
    bundle.set_args("/bin/echo", "abs")
    assert rt.run_ok(bundle) == "abs\n"


def test_env(rt, bundle):
    bundle.process["env"] = ["PATH=/bin", "FOO=bar", "EMPTY=", "EQ=a=b=c",
                             "SPACES=one two"]
    bundle.sh('printf "%s|%s|%s|%s|%s\\n" "$FOO" "$EMPTY" "$EQ" "$SPACES" "$PATH"; '
              "env | grep -c '^EMPTY=$'")
    out = rt.run_ok(bundle).splitlines()
    assert out == ["bar||a=b=c|one two|/bin", "1"]


def test_env_does_not_leak_from_runtime(rt, bundle, cid):
    bundle.set_args("env")
    env = dict(os.environ, KRUNC_ITEST_LEAK="should-not-appear")
    res = rt.run_container(cid, bundle, env=env)
    assert res.returncode == 0, describe(res)
    assert "KRUNC_ITEST_LEAK" not in res.stdout
    names = {l.split("=", 1)[0] for l in res.stdout.splitlines() if "=" in l}
    # only what the spec set, plus what sh/the runtime may add
    assert names <= {"PATH", "TERM", "HOME", "HOSTNAME", "PWD", "SHLVL", "container"}, names


@pytest.mark.parametrize("cwd", ["/tmp", "/bin", "/"])
def test_cwd(rt, bundle, cwd):
    bundle.process["cwd"] = cwd
    bundle.set_args("pwd")
    assert rt.run_ok(bundle).strip() == cwd


def test_cwd_created_if_missing(rt, bundle):
    bundle.process["cwd"] = "/new/work/dir"
    bundle.set_args("pwd")
    assert rt.run_ok(bundle).strip() == "/new/work/dir"


# -- user -------------------------------------------------------------------


def test_user_uid_gid_groups(rt, bundle):
    bundle.process["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [10, 20, 30]}
    bundle.sh("cat /proc/self/status; echo ===; id -u; id -g")
    status, ids = rt.run_ok(bundle).split("===\n")
    f = status_fields(status)
    assert f["Uid"] == ["1000"] * 4
    assert f["Gid"] == ["1001"] * 4
    assert sorted(map(int, f["Groups"])) == [10, 20, 30]
    assert ids.split() == ["1000", "1001"]


def test_user_without_additional_gids_drops_groups(rt, bundle):
    bundle.process["user"] = {"uid": 1000, "gid": 1000}
    bundle.sh("grep ^Groups: /proc/self/status")
    groups = rt.run_ok(bundle).split()[1:]
    assert groups in ([], ["1000"]), groups


def test_user_root_default(rt, bundle):
    bundle.sh("id -u; id -g")
    assert rt.run_ok(bundle).split() == ["0", "0"]


def test_user_cannot_write_root_files(rt, bundle):
    bundle.config["root"]["readonly"] = False
    os.chmod(bundle.rootfs / "etc", 0o755)
    bundle.process["user"] = {"uid": 1000, "gid": 1000}
    bundle.sh("touch /etc/x 2>/dev/null && echo wrote || echo denied")
    assert rt.run_ok(bundle).strip() == "denied"


@pytest.mark.parametrize("umask,expected", [(0o027, "0027"), (0o077, "0077"),
                                            (0, "0000")])
def test_umask(rt, bundle, umask, expected):
    bundle.process["user"]["umask"] = umask
    bundle.set_args("sh", "-c", "umask")
    assert rt.run_ok(bundle).strip() == expected


def test_umask_effect(rt, bundle):
    bundle.process["user"]["umask"] = 0o077
    bundle.add_mount("/w", "tmpfs", "tmpfs")
    bundle.sh("touch /w/f && stat -c %a /w/f")
    assert rt.run_ok(bundle).strip() == "600"


def test_umask_default(rt, bundle):
    bundle.set_args("sh", "-c", "umask")
    assert rt.run_ok(bundle).strip() == "0022"


# -- rlimits and oom ----------------------------------------------------------


def _limits(text):
    """/proc/self/limits -> {name: (soft, hard)}"""
    out = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        # names have spaces; soft and hard are the two fields after the name
        for i, p in enumerate(parts):
            if p.isdigit() or p == "unlimited":
                out[" ".join(parts[:i])] = (parts[i], parts[i + 1])
                break
    return out


def test_rlimit_nofile(rt, bundle):
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]
    bundle.sh("ulimit -n; ulimit -Hn; cat /proc/self/limits")
    out = rt.run_ok(bundle).splitlines()
    assert out[:2] == ["100", "200"]
    assert _limits("\n".join(out[2:]))["Max open files"] == ("100", "200")


@pytest.mark.parametrize("rtype,name,soft,hard", [
    ("RLIMIT_CORE", "Max core file size", 0, 0),
    ("RLIMIT_NPROC", "Max processes", 500, 1000),
    ("RLIMIT_STACK", "Max stack size", 4 * 1024 * 1024, 8 * 1024 * 1024),
    ("RLIMIT_MEMLOCK", "Max locked memory", 65536, 65536),
    ("RLIMIT_FSIZE", "Max file size", 1 << 30, 1 << 31),
])
def test_rlimits(rt, bundle, rtype, name, soft, hard):
    bundle.process["rlimits"] = [{"type": rtype, "soft": soft, "hard": hard}]
    bundle.set_args("cat", "/proc/self/limits")
    assert _limits(rt.run_ok(bundle))[name] == (str(soft), str(hard))


def test_multiple_rlimits(rt, bundle):
    bundle.process["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 64, "hard": 128},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
    ]
    bundle.set_args("cat", "/proc/self/limits")
    lim = _limits(rt.run_ok(bundle))
    assert lim["Max open files"] == ("64", "128")
    assert lim["Max core file size"] == ("0", "0")


def test_rlimit_soft_above_hard_fails(rt, bundle, cid):
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 200, "hard": 100}]
    bundle.set_args("true")
    res = rt.run_container(cid, bundle)
    assert res.returncode != 0
    assert res.stderr.strip()
    rt.assert_clean()


@pytest.mark.parametrize("adj", [0, 100, 500, 1000])
def test_oom_score_adj(rt, bundle, adj):
    bundle.process["oomScoreAdj"] = adj
    bundle.set_args("cat", "/proc/self/oom_score_adj")
    assert rt.run_ok(bundle).strip() == str(adj)


def test_oom_score_adj_seen_from_host(rt, bundle, cid):
    bundle.process["oomScoreAdj"] = 321
    bundle.set_args("sleep", "1000")
    st = rt.start_detached(cid, bundle)
    with open("/proc/%d/oom_score_adj" % st["pid"]) as f:
        assert f.read().strip() == "321"
    rt.delete(cid, force=True)


def test_oom_score_adj_not_changed_for_runtime_caller(rt, bundle):
    with open("/proc/self/oom_score_adj") as f:
        before = f.read()
    bundle.process["oomScoreAdj"] = 777
    bundle.set_args("true")
    rt.run_ok(bundle)
    with open("/proc/self/oom_score_adj") as f:
        assert f.read() == before


# -- file descriptors ------------------------------------------------------------


def fd_wrapper(files):
    """argv prefix: a host sh that opens ``files`` as fds 3, 4, ... and execs."""
    redirs = " ".join("%d<%s" % (3 + i, shlex.quote(str(f))) for i, f in enumerate(files))
    return ["/bin/sh", "-c", 'exec "$@" ' + redirs, "sh"]


def run_with_fds(rt, bundle, cid, files, *extra):
    bundle.write()
    argv = ["run", "--bundle", str(bundle.path), *extra, cid]
    return rt.run(argv, prefix=fd_wrapper(files))


@pytest.fixture
def fd_files(tmp_path):
    files = []
    for i in range(3):
        f = tmp_path / ("fd%d" % i)
        f.write_text("content-%d\n" % i)
        files.append(f)
    return files


def test_no_leaked_fds(rt, bundle, cid, fd_files):
    # the runtime itself gets fds 3-5 from its caller; none may reach the container
    bundle.sh("ls /proc/self/fd")
    res = run_with_fds(rt, bundle, cid, fd_files)
    assert res.returncode == 0, describe(res)
    # 0-2, and 3 is the directory ls itself opened
    assert sorted(res.stdout.split(), key=int) == ["0", "1", "2", "3"]


def test_no_leaked_fds_detached(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    st = rt.start_detached(cid, bundle)
    pid = st["pid"]
    wait_for(lambda: open("/proc/%d/cmdline" % pid, "rb").read().startswith(b"sleep"),
             what="exec of sleep")
    assert sorted(os.listdir("/proc/%d/fd" % pid), key=int) == ["0", "1", "2"]
    rt.delete(cid, force=True)


def test_preserve_fds(rt, bundle, cid, fd_files):
    bundle.sh("cat <&3; cat <&4; ls /proc/self/fd")
    res = run_with_fds(rt, bundle, cid, fd_files, "--preserve-fds", "2")
    assert res.returncode == 0, describe(res)
    lines = res.stdout.split()
    assert lines[:2] == ["content-0", "content-1"], describe(res)
    # 0-4 plus ls's own directory fd (5); fd 5 of the caller was not preserved
    assert sorted(lines[2:], key=int) == ["0", "1", "2", "3", "4", "5"]


def test_preserve_fds_zero(rt, bundle, cid, fd_files):
    bundle.sh("ls /proc/self/fd")
    res = run_with_fds(rt, bundle, cid, fd_files, "--preserve-fds", "0")
    assert res.returncode == 0, describe(res)
    assert sorted(res.stdout.split(), key=int) == ["0", "1", "2", "3"]


def test_preserve_fds_create_start(rt, bundle, cid, fd_files):
    shared = bundle.shared
    bundle.sh("cat <&3 > /shared/out; ls /proc/self/fd > /shared/fds")
    bundle.write()
    res = rt.run(["create", "--bundle", str(bundle.path), "--preserve-fds", "1", cid],
                 prefix=fd_wrapper(fd_files))
    assert res.returncode == 0, describe(res)
    rt.start(cid)
    rt.wait_stopped(cid)
    assert (shared / "out").read_text() == "content-0\n"
    assert sorted((shared / "fds").read_text().split(), key=int) == ["0", "1", "2", "3", "4"]
    rt.delete(cid)


# -- stdio ---------------------------------------------------------------------


def test_detached_stdio_passthrough(rt, bundle, cid):
    """With terminal false, create hands its own stdio to the container."""
    bundle.sh("echo out-line; echo err-line >&2; exec sleep 1000")
    res = rt.create(cid, bundle)
    rt.start(cid)
    wait_for(lambda: "out-line" in res.out_path.read_text(), what="container stdout")
    wait_for(lambda: "err-line" in res.err_path.read_text(), what="container stderr")
    assert "err-line" not in res.out_path.read_text()
    assert "out-line" not in res.err_path.read_text()
    rt.delete(cid, force=True)


def test_detached_stdin_passthrough(rt, bundle, cid, tmp_path):
    inp = tmp_path / "input"
    inp.write_text("fed through stdin\n")
    shared = bundle.shared
    bundle.sh("cat > /shared/got")
    with open(inp) as f:
        rt.create(cid, bundle, stdin=f)
    rt.start(cid)
    rt.wait_stopped(cid)
    assert (shared / "got").read_text() == "fed through stdin\n"
    rt.delete(cid)
