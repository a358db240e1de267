"""The details of krunc's command line that podman/conmon and containerd's
runc v2 shim depend on, checked directly on krunc (the client tests in
test_podman.py and test_containerd.py show them end to end). Each is what
runc does; the tests also pass with KRUNC=/usr/sbin/runc."""

import pytest

from clients_util import KRUNC, run_cmd

pytestmark = pytest.mark.clients


def test_delete_force_of_missing_container_succeeds(tmp_path):
    # podman runs `delete --force` to clean up after a create that failed
    r = run_cmd([KRUNC, "--root", tmp_path, "delete", "--force", "no-such-ctr"], check=False)
    assert (r.rc, r.out, r.err) == (0, "", ""), r.describe()
    # without --force it is still an error that says the container does not exist,
    # which is what the runc shim looks for to ignore it
    r = run_cmd([KRUNC, "--root", tmp_path, "delete", "no-such-ctr"], check=False)
    assert r.rc == 1 and "does not exist" in r.err, r.describe()
