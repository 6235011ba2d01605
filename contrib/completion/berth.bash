# bash completion for berth.
#
# Install: source this file from ~/.bashrc, or copy it to
# /usr/share/bash-completion/completions/berth.
#
# Commands, subcommands and flags are read from `berth --help` and
# `berth COMMAND --help`, so they always match the installed berth; service
# names come from `berth config --services` with the global options typed so
# far (-f, -p, --project-directory, --profile, --env-file).

_berth_commands() {
    # "Commands:" and "Plumbing" sections list "  NAME  summary"
    "$1" "${@:2}" --help 2>/dev/null |
        awk '/^(Commands|Plumbing)/ { f = 1; next } /^[^ ]/ { f = 0 } f && /^  [a-z]/ { print $1 }'
}

_berth_flags() {
    "$@" --help 2>/dev/null | grep -oE '^ +(-[a-zA-Z], )?--?[a-zA-Z][-a-zA-Z]*' |
        grep -oE -- '--?[a-zA-Z][-a-zA-Z]*'
}

# Flags of `berth ... CMD` that take a value (their help line names one).
_berth_flag_takes_value() {
    local flag=$1
    shift
    # "  -e, --env KEY=VAL   ..." or "      --tail N   ..."
    "$@" --help 2>/dev/null |
        grep -qE -- "^ +($flag, --[-a-zA-Z]+|(-[a-zA-Z], )?$flag) [A-Z]"
}

_berth() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local berth=${COMP_WORDS[0]}
    local -a global=()
    local i=1 cmd="" sub=""
    # global options before the command
    while [ $i -lt $COMP_CWORD ]; do
        case ${COMP_WORDS[i]} in
        -f | --file | -p | --project-name | --project-directory | --profile | --env-file)
            global+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}")
            i=$((i + 2))
            ;;
        --ansi | --log-level)
            i=$((i + 2))
            ;;
        -*) i=$((i + 1)) ;;
        *)
            cmd=${COMP_WORDS[i]}
            break
            ;;
        esac
    done

    if [ -z "$cmd" ]; then
        case $prev in
        -f | --file | --env-file)
            COMPREPLY=($(compgen -f -- "$cur"))
            return
            ;;
        --project-directory)
            COMPREPLY=($(compgen -d -- "$cur"))
            return
            ;;
        --ansi)
            COMPREPLY=($(compgen -W "never always auto" -- "$cur"))
            return
            ;;
        --log-level)
            COMPREPLY=($(compgen -W "error warn info debug" -- "$cur"))
            return
            ;;
        -p | --project-name | --profile) return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$(_berth_flags "$berth")" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_berth_commands "$berth")" -- "$cur"))
        fi
        return
    fi

    # command families with subcommands
    local -a path=("$berth" "$cmd")
    case $cmd in
    image | volume | network | container | runtime)
        if [ $((i + 1)) -lt $COMP_CWORD ]; then
            sub=${COMP_WORDS[i + 1]}
            path+=("$sub")
        elif [[ $cur != -* ]]; then
            COMPREPLY=($(compgen -W "$(_berth_commands "$berth" "$cmd")" -- "$cur"))
            return
        fi
        ;;
    esac

    if [[ $prev == -* ]] && _berth_flag_takes_value "$prev" "${path[@]}"; then
        case $prev in
        -f | --file | -o | --output | -i | --input | --env-file) COMPREPLY=($(compgen -f -- "$cur")) ;;
        -w | --workdir | --project-directory) COMPREPLY=($(compgen -d -- "$cur")) ;;
        --format) COMPREPLY=($(compgen -W "table json" -- "$cur")) ;;
        --ansi) COMPREPLY=($(compgen -W "never always auto" -- "$cur")) ;;
        --pull | --policy) COMPREPLY=($(compgen -W "always missing never" -- "$cur")) ;;
        --protocol) COMPREPLY=($(compgen -W "tcp udp sctp" -- "$cur")) ;;
        --rmi) COMPREPLY=($(compgen -W "local all" -- "$cur")) ;;
        --exit-code-from | --attach | --no-attach)
            COMPREPLY=($(compgen -W "$("$berth" "${global[@]}" config --services 2>/dev/null)" -- "$cur"))
            ;;
        esac
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_berth_flags "${path[@]}")" -- "$cur"))
        return
    fi
    case $cmd in
    up | down | create | start | stop | restart | kill | rm | pause | unpause | ps | logs | \
        top | images | pull | push | events | wait | config | stats)
        COMPREPLY=($(compgen -W "$("$berth" "${global[@]}" config --services 2>/dev/null)" -- "$cur"))
        ;;
    scale)
        # SERVICE=REPLICAS
        if [[ $cur != *=* ]]; then
            COMPREPLY=($(compgen -S = -W "$("$berth" "${global[@]}" config --services 2>/dev/null)" -- "$cur"))
            compopt -o nospace 2>/dev/null
        fi
        ;;
    attach)
        # one service, the first word after the options
        local j n=0
        for ((j = i + 1; j < COMP_CWORD; j++)); do
            case ${COMP_WORDS[j]} in
            -*) _berth_flag_takes_value "${COMP_WORDS[j]}" "${path[@]}" && j=$((j + 1)) ;;
            *) n=$((n + 1)) ;;
            esac
        done
        [ $n != 0 ] || COMPREPLY=($(compgen -W "$("$berth" "${global[@]}" config --services 2>/dev/null)" -- "$cur"))
        ;;
    exec | run | port)
        # the service is the first word after the options; then the command
        local j n=0
        for ((j = i + 1; j < COMP_CWORD; j++)); do
            case ${COMP_WORDS[j]} in
            -*) _berth_flag_takes_value "${COMP_WORDS[j]}" "${path[@]}" && j=$((j + 1)) ;;
            *) n=$((n + 1)) ;;
            esac
        done
        if [ $n = 0 ]; then
            COMPREPLY=($(compgen -W "$("$berth" "${global[@]}" config --services 2>/dev/null)" -- "$cur"))
        elif [ "$cmd" != port ]; then
            COMPREPLY=($(compgen -c -- "$cur"))
        fi
        ;;
    image | rmi | tag | save)
        COMPREPLY=($(compgen -W "$("$berth" image ls 2>/dev/null | awk 'NR > 1 && $1 != "<none>" { print $1 ":" $2 }')" -- "$cur"))
        ;;
    volume)
        [ "$sub" = create ] || COMPREPLY=($(compgen -W "$("$berth" volume ls -q 2>/dev/null)" -- "$cur"))
        ;;
    network)
        [ "$sub" = create ] || COMPREPLY=($(compgen -W "$("$berth" network ls 2>/dev/null | awk 'NR > 1 { print $2 }')" -- "$cur"))
        ;;
    container)
        COMPREPLY=($(compgen -W "$("$berth" container ls -a 2>/dev/null | awk 'NR > 1 { print $NF }')" -- "$cur"))
        ;;
    load | import | runtime)
        COMPREPLY=($(compgen -f -- "$cur"))
        ;;
    cp)
        # SERVICE:PATH or a local path; after "SERVICE:" the path is free
        if [ "$prev" != : ] && [[ $cur != *:* ]]; then
            local s
            COMPREPLY=($(for s in $("$berth" "${global[@]}" config --services 2>/dev/null); do
                echo "$s:"; done | grep -- "^$cur") $(compgen -f -- "$cur"))
            compopt -o nospace 2>/dev/null
        fi
        ;;
    esac
}

complete -F _berth berth
