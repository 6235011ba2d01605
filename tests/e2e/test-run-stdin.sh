#!/usr/bin/env bash
# Interactive containers: berth run takes stdin (-T: piped, no terminal),
# end of file on it ends the container's, exit codes pass through;
# container run -i does the same and, without -i, stdin is empty; with a
# terminal (driven through a pty) a prompt shows before any input, input is
# echoed by the container's terminal, the window size and its changes
# (SIGWINCH) reach it and the local terminal is restored; stdin_open keeps
# an up -d service's stdin open.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
command -v python3 >/dev/null || bt_skip "needs python3"
up_image
up_project demo <<'YAML'
services:
  svc:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
  shell:
    image: berth-test/busybox:latest
    command: [sh]
    stdin_open: true
    stop_grace_period: 1s
YAML

echo "== run -T: piped stdin, end of file, exit code"
out=$(echo hi | timeout 30 "$BERTH_BIN" --ansi never run --rm -T svc cat 2>"$BERTH_TEST_TMP/err")
rc=$?
expect_eq "$rc" 0 "exit code of a piped run ($(cat "$BERTH_TEST_TMP/err"))"
expect_eq "$out" "hi" "piped stdin comes back"
seq 1 500 >"$BERTH_TEST_TMP/lines"
out=$(timeout 30 "$BERTH_BIN" run --rm -T svc sh -c 'wc -l; exit 3' <"$BERTH_TEST_TMP/lines" 2>/dev/null)
rc=$?
expect_eq "$rc" 3 "exit code with stdin from a file"
expect_eq "$(echo $out)" "500" "every line of the file reached the container"
out=$(timeout 30 "$BERTH_BIN" run --rm -T svc sh -c 'read a; read b; echo "$b-$a"' 2>/dev/null <<'EOF'
one
two
EOF
)
expect_eq "$out" "two-one" "lines read one by one"
# stdin that is already at its end: the container sees end of file at once
out=$(timeout 30 "$BERTH_BIN" run --rm -T svc sh -c 'cat; echo done' </dev/null 2>/dev/null)
expect_eq "$out" "done" "empty stdin"

# a container that stops reading: berth neither dies of SIGPIPE nor hangs
out=$(yes | timeout 30 "$BERTH_BIN" run --rm -T svc head -n 2 2>/dev/null)
rc=$?
expect_eq "$rc" 0 "exit code when the container stops reading"
expect_eq "$(echo $out)" "y y" "output when the container stops reading"
out=$(yes | timeout 30 "$BERTH_BIN" run --rm -T svc sh -c 'exit 6' 2>/dev/null)
expect_eq "$?" 6 "exit code of a container that never reads"

echo "== container run -i, and without -i"
R=$BERTH_TEST_TMP/rootfs
bash "$BERTH_SOURCE_DIR/tests/fixtures/busybox-rootfs.sh" "$R" >/dev/null ||
    bt_skip "cannot build the busybox rootfs"
out=$(printf 'a\nb\n' | timeout 30 "$BERTH_BIN" container run --rm -i --rootfs "$R" sh -c 'cat; exit 4')
rc=$?
expect_eq "$rc" 4 "exit code of container run -i"
expect_eq "$out" "$(printf 'a\nb')" "container run -i input"
out=$(echo nothing | timeout 30 "$BERTH_BIN" container run --rm --rootfs "$R" sh -c 'cat; echo end')
expect_eq "$out" "end" "without -i stdin is empty"

echo "== run with a terminal: echo, window size, SIGWINCH, terminal restored"
cat >"$BERTH_TEST_TMP/tty_harness.py" <<'PY'
import fcntl, os, pty, select, struct, sys, termios, time

# argv: a scratch directory and the berth command line, to which the
# container's command is appended
tmp, cmd = sys.argv[1], sys.argv[2]
script = ('stty -g >%s/before; %s sh -c '
          '"stty size; printf prompt:; read x; stty size; echo got:\\$x; exit 5"; '
          'rc=$?; stty -g >%s/after; exit $rc') % (tmp, cmd, tmp)
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 91, 0, 0))
    os.execvp("sh", ["sh", "-c", script])
out = b""
def read_until(what, secs):
    global out
    end = time.time() + secs
    while what not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
    return what in out
# the prompt has no newline: it must show before any input
if read_until(b"prompt:", 20):
    sys.stdout.write("PROMPTED\n")
    # a new window size: the kernel sends SIGWINCH to berth
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    time.sleep(0.5)
    os.write(fd, b"hello\r")
    read_until(b"got:hello", 20)
read_until(b"\x00never", 2)
status = None
for _ in range(100):
    p, st = os.waitpid(pid, os.WNOHANG)
    if p == pid:
        status = st
        break
    time.sleep(0.1)
sys.stdout.write(out.decode(errors="replace"))
# the terminal's own echo of the typed line, apart from the program's output
if b"hello\r\n" in out.replace(b"got:hello", b""):
    sys.stdout.write("\nECHOED\n")
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    sys.stdout.write("\nEXIT none: still running\n")
else:
    sys.stdout.write("\nEXIT %d\n" % os.waitstatus_to_exitcode(status))
PY
tty_check() {
    local what=$1
    rm -f "$BERTH_TEST_TMP/before" "$BERTH_TEST_TMP/after"
    out=$(timeout 60 python3 "$BERTH_TEST_TMP/tty_harness.py" "$BERTH_TEST_TMP" "$2")
    expect_in "$out" "PROMPTED" "$what: a prompt without a newline shows at once"
    expect_in "$out" "33 91" "$what: the window size at start"
    expect_in "$out" "40 100" "$what: the window size after SIGWINCH"
    expect_in "$out" "ECHOED" "$what: the terminal echoes the input"
    expect_in "$out" "got:hello" "$what: the input reached the container"
    expect_in "$out" "EXIT 5" "$what: exit code through the terminal"
    [ -s "$BERTH_TEST_TMP/before" ] || bt_fail "$what: no terminal settings before"
    expect_eq "$(cat "$BERTH_TEST_TMP/after")" "$(cat "$BERTH_TEST_TMP/before")" \
        "$what: terminal settings restored"
}
tty_check "run" "$BERTH_BIN --ansi never run --rm svc"
tty_check "container run -it" "$BERTH_BIN container run --rm -it --rootfs $R"

echo "== stdin_open: an up -d shell waits on its open stdin"
b up -d shell >/dev/null 2>&1 || bt_fail "up -d shell"
sleep 1
expect_eq "$(b container inspect -f '{{.State.Status}}' demo-shell-1)" running "shell with stdin_open"
expect_eq "$(b container inspect -f "{{.Config.OpenStdin}}" demo-shell-1)" true "Config.OpenStdin"

expect_not_in "$(b container ls -a)" "-run-" "run --rm left a container"
b down -t 1 >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left
echo "ok"
