#!/bin/sh
# Make a bundle with a busybox-static rootfs and run a container in it.
set -eu
krunc=$(readlink -f "${1:-build/krunc}")
bundle=$(mktemp -d /tmp/krunc-demo.XXXXXX)
root=$(mktemp -d /tmp/krunc-demo-root.XXXXXX)
trap 'rm -rf "$bundle" "$root"' EXIT

mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/dev" "$bundle/rootfs/sys" "$bundle/rootfs/tmp"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ -e "$bundle/rootfs/bin/$applet" ] || ln -s busybox "$bundle/rootfs/bin/$applet"
done
cd "$bundle"
"$krunc" spec
# not a terminal, and a command that shows where it runs
sed -i 's/"terminal": true/"terminal": false/' config.json
sed -i 's|"sh"$|"sh", "-c", "echo hostname: $(hostname); echo pid: $$; echo uid: $(id -u); echo kernel: $(uname -r)"|' config.json
echo "running a container with $krunc from $bundle:"
"$krunc" --root "$root" run "demo-$$"
