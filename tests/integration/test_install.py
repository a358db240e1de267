"""`meson install`, the man page and the bash completion.

The man page must cover every command, flag and annotation that krunc
itself reports (--help of each command, `features`), so a command or flag
added without documentation fails here."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from clients_util import KRUNC, REPO, busybox_rootfs, run_cmd

pytestmark = pytest.mark.clients

BUILD = Path(os.environ.get("KRUNC_BUILD", str(Path(KRUNC).resolve().parent)))
MAN_MD = REPO / "docs" / "krunc.1.md"
COMPLETION = REPO / "completions" / "krunc.bash"


def commands():
    text = run_cmd([KRUNC, "--help"]).out
    block = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in block.splitlines() if line.strip()]


def flags(*cmd):
    """The flags a --help text lists: ["--bundle", "-b", ...]."""
    out = []
    for line in run_cmd([KRUNC] + list(cmd) + ["--help"]).out.splitlines():
        m = re.match(r"^   (--[a-z0-9-]+)(?:, (-[a-zA-Z]))?", line)
        if m:
            out += [g for g in m.groups() if g]
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    if not (BUILD / "build.ninja").exists():
        pytest.fail("no meson build directory at %s (set KRUNC_BUILD)" % BUILD)
    dest = tmp_path_factory.mktemp("destdir")
    run_cmd(["meson", "install", "-C", BUILD, "--destdir", dest, "--no-rebuild", "--quiet"])
    prefix = run_cmd(["meson", "introspect", "--buildoptions", BUILD]).out
    opts = {o["name"]: o["value"] for o in json.loads(prefix)}
    root = dest / opts["prefix"].lstrip("/")
    yield root, opts
    shutil.rmtree(dest, ignore_errors=True)


def test_install_binary_and_krun_symlink(installed):
    root, opts = installed
    bindir = root / opts["bindir"]
    assert os.access(bindir / "krunc", os.X_OK)
    assert os.readlink(bindir / "krun") == "krunc"
    r = run_cmd([bindir / "krunc", "--version"])
    assert r.out.startswith("krunc version "), r.describe()
    if opts["static"]:
        # the static krunc finds krunc-dynamic where --version says, under the prefix
        helper = root / opts["libexecdir"] / "krunc" / "krunc-dynamic"
        assert os.access(helper, os.X_OK)
        where = os.path.join(opts["prefix"], opts["libexecdir"], "krunc", "krunc-dynamic")
        assert "or %s)" % where in r.out, r.out
    else:
        assert "build: dynamic" in r.out, r.out


def test_install_man_page(installed):
    root, opts = installed
    man = root / opts["mandir"] / "man1" / "krunc.1"
    assert man.is_file(), ("the man page was not built: install go-md2man (Debian package "
                           "go-md2man) or pandoc and reconfigure")
    assert os.readlink(man.parent / "krun.1") == "krunc.1"
    r = run_cmd(["man", "-l", man], check=False) if shutil.which("man") else None
    text = man.read_text()
    assert text.lstrip().startswith(".") and ".TH" in text and "krunc" in text
    if r is not None:
        assert r.rc == 0 and "krunc" in r.out and "EXIT STATUS" in r.out, r.describe()


def test_install_bash_completion(installed):
    root, opts = installed
    comp = root / opts["datadir"] / "bash-completion" / "completions"
    assert (comp / "krunc").read_text() == COMPLETION.read_text()
    assert os.readlink(comp / "krun") == "krunc"


def test_man_page_covers_every_command_and_flag():
    md = MAN_MD.read_text()
    missing = []
    for c in commands():
        if not re.search(r"^## %s\b" % re.escape(c), md, re.M):
            missing.append("command " + c)
        for f in flags(c):
            if f not in ("--help", "-h") and not re.search(r"\*\*%s\*\*" % re.escape(f), md):
                missing.append("%s %s" % (c, f))
    for f in flags():
        if not re.search(r"\*\*%s\*\*" % re.escape(f), md):
            missing.append("global " + f)
    assert not missing, "not in docs/krunc.1.md: " + ", ".join(missing)


def test_man_page_covers_every_annotation():
    feats = json.loads(run_cmd([KRUNC, "features"]).out)
    names = set()

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            names.update(re.findall(r"(?<![\w.])(?:krun\.[a-z_]+|run\.oci\.handler)\b", v))
    walk(feats)
    assert "run.oci.handler" in names
    md = MAN_MD.read_text()
    missing = sorted(n for n in names if "**%s**" % n not in md)
    assert not missing, "annotations not in docs/krunc.1.md: %s" % missing


def test_man_page_covers_environment():
    src = "\n".join(p.read_text() for p in (REPO / "src").rglob("*.c"))
    envs = set(re.findall(r'getenv\("([A-Z_]+)"\)', src)) - {"PATH", "HOME", "TERM"}
    md = MAN_MD.read_text()
    env_section = md.split("# ENVIRONMENT", 1)[1].split("\n# ", 1)[0]
    missing = sorted(e for e in envs if "**%s**" % e not in env_section)
    assert not missing, "environment variables not in the man page's ENVIRONMENT: %s" % missing


def complete(words):
    """What the completion function offers for the command line ``words``
    (the last one being completed)."""
    script = ('source %s\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_krunc\nprintf "%%s\\n" "${COMPREPLY[@]}"\n'
              % (COMPLETION, " ".join("'%s'" % w for w in words), len(words) - 1))
    env = dict(os.environ, PATH="%s:%s" % (Path(KRUNC).resolve().parent, os.environ["PATH"]))
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                       env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    return [w for w in r.stdout.split("\n") if w]


def test_bash_completion(tmp_path):
    assert complete(["krunc", ""]) == commands()
    assert complete(["krunc", "--log-f"]) == ["--log-format"]
    assert "--bundle" in complete(["krunc", "create", "--"])
    assert complete(["krunc", "--log-format", ""]) == ["text", "json"]
    assert complete(["krunc", "kill", "some-id", "SIGKI"]) == ["SIGKILL"]
    assert complete(["krunc", "kill", "--all", "some-id", "SIGKI"]) == ["SIGKILL"]
    # after exec's container id come the command's words: nothing of ours
    assert complete(["krunc", "exec", "--env", "A=b", "some-id", ""]) == []
    # container ids under the --root given on the line
    bundle = tmp_path / "bundle"
    busybox_rootfs(bundle / "rootfs")
    run_cmd([KRUNC, "spec", "-b", bundle])
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sleep", "1000"]
    (bundle / "config.json").write_text(json.dumps(cfg))
    root = tmp_path / "root"
    # the container's stdio must not be our pipes: it keeps them open
    subprocess.run([KRUNC, "--root", root, "create", "-b", bundle, "compl-ctr"], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=30)
    try:
        assert complete(["krunc", "--root", str(root), "delete", "comp"]) == ["compl-ctr"]
        assert complete(["krunc", "--root=%s" % root, "state", ""]) == ["compl-ctr"]
    finally:
        run_cmd([KRUNC, "--root", root, "delete", "--force", "compl-ctr"])
