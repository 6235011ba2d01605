#!/usr/bin/env bash
# Bash and zsh completion: commands, subcommands and flags read from the
# installed berth's help, service names of the project (with -f honoured),
# values of flags, and commands after `exec SERVICE`.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
. "$BERTH_SOURCE_DIR/tests/fixtures/engine/bundle.sh"
set -u
comp=$BERTH_SOURCE_DIR/contrib/completion
mkdir -p "$BERTH_TEST_TMP/bin"
ln -s "$BERTH_BIN" "$BERTH_TEST_TMP/bin/berth"
export PATH=$BERTH_TEST_TMP/bin:$PATH
P=$BERTH_TEST_TMP/demo
mkdir -p "$P"
printf 'services:\n  web:\n    image: busybox\n  db:\n    image: busybox\n' >"$P/compose.yaml"
printf 'services:\n  other:\n    image: busybox\n' >"$P/other.yaml"
cd "$P"

. "$comp/berth.bash"
complete_line() { # complete_line WORD... (the last word is being completed)
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMPREPLY=()
    _berth
    [ ${#COMPREPLY[@]} = 0 ] || printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
expect() { [ "$1" = "$2" ] || bt_fail "$3: expected '$2', got '$1'"; }

echo "== bash"
expect "$(complete_line berth lo)" "load login logout logs " "commands"
expect "$(complete_line berth ru)" "run runtime " "commands"
expect "$(complete_line berth logs --ta)" "--tail " "logs flags"
bt_contains "$(complete_line berth up --)" "--remove-orphans"
bt_contains "$(complete_line berth exec -)" "--no-TTY"
expect "$(complete_line berth image l)" "load ls " "image subcommands"
bt_contains "$(complete_line berth volume rm --)" "--force"
expect "$(complete_line berth logs '')" "db web " "services"
expect "$(complete_line berth logs web '')" "db web " "more services"
expect "$(complete_line berth -f other.yaml ps '')" "other " "services of -f other.yaml"
expect "$(complete_line berth exec '')" "db web " "exec service"
expect "$(complete_line berth exec -e A=1 we)" "web " "exec service after a flag with a value"
bt_contains "$(complete_line berth exec web bas)" "bash"
expect "$(complete_line berth logs --tail '')" "" "no services as a --tail value"
expect "$(complete_line berth st)" "start stats stop " "stats among the commands"
expect "$(complete_line berth stats '')" "db web " "stats services"
bt_contains "$(complete_line berth stats --)" "--no-stream"
expect "$(complete_line berth scale w)" "web= " "scale SERVICE="
expect "$(complete_line berth attach --index 2 '')" "db web " "attach service after --index N"
expect "$(complete_line berth attach web '')" "" "attach takes one service"
expect "$(complete_line berth --ansi n)" "never " "--ansi values"
expect "$(complete_line berth port --protocol u)" "udp " "--protocol values"
expect "$(complete_line berth run --pull m)" "missing " "--pull values"

echo "== zsh"
if command -v zsh >/dev/null; then
    zsh -n "$comp/_berth" || bt_fail "zsh syntax"
    out=$(zsh -c "_call_program() { shift; \"\$@\"; }
        source <(sed '\$d' '$comp/_berth')
        _berth_help_commands berth
        echo ---
        _berth_help_flags berth logs
        echo ---
        _berth_help_commands berth image")
    bt_contains "$out" "logs:View output from containers"
    bt_contains "$out" "exec:Execute a command in a running container of a service"
    bt_contains "$out" "--tail[Number of lines to show from the end of the logs]:value:"
    bt_contains "$out" "-f[Follow log output]"
    bt_contains "$out" "--no-color[Produce monochrome output]"
    bt_contains "$out" "ls:List images"
else
    bt_skip "zsh is not installed"
fi
echo PASS
