# bash completion for krunc (and krun, the same program).
#
# Commands and flags are read from `krunc --help` and `krunc COMMAND --help`,
# so the completion always matches the installed krunc; container ids come
# from `krunc list -q` under the --root given on the command line.

_krunc_help_flags()
{
    # the "--flag" and "-f" words of a --help text's option lines
    "$@" --help 2>/dev/null | sed -n -e 's/^   \(--[a-z0-9-]*\)\(, \(-[a-zA-Z]\)\)\{0,1\}.*/\1 \3/p'
}

_krunc()
{
    local cur prev words cword
    COMPREPLY=()
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
    local prog=${words[0]} root="" cmd="" i
    local -a global=()

    # find the command word, skipping global flags and their values
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --root|--log|--log-format|--libkrun|--rootless|--criu)
                global+=("${words[i]}" "${words[i+1]}")
                [[ ${words[i]} == --root ]] && root=${words[i+1]}
                ((i++)) ;;
            --root=*) root=${words[i]#--root=}; global+=("${words[i]}") ;;
            -*) global+=("${words[i]}") ;;
            *) cmd=${words[i]}; break ;;
        esac
    done

    case $prev in
        --root|--bundle|-b|--cwd)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --log|--pid-file|--libkrun|--process|-p|--console-socket|--resources|-r)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --log-format)
            COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --format|-f)
            if [[ $cmd == list || $cmd == ps ]]; then
                COMPREPLY=($(compgen -W "table json" -- "$cur")); return
            fi ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$(_krunc_help_flags "$prog")" -- "$cur"))
        else
            local cmds
            cmds=$("$prog" --help 2>/dev/null | sed -n -e '/^Commands:/,/^$/s/^   \([a-z][a-z-]*\) .*/\1/p')
            COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
        fi
        return
    fi

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_krunc_help_flags "$prog" "$cmd")" -- "$cur"))
        return
    fi

    # the positional arguments before the word being completed
    local npos=0
    for ((i = i + 1; i < cword; i++)); do
        case ${words[i]} in
            --bundle|-b|--pid-file|--console-socket|--preserve-fds|--process|-p|--env|-e|--cwd|\
            --user|-u|--additional-gids|-g|--cap|-c|--apparmor|--process-label|--cgroup|--format|-f|\
            --resources|-r|--interval|--memory|--memory-reservation|--memory-swap|--cpu-shares|\
            --cpu-quota|--cpu-period|--cpu-rt-runtime|--cpu-rt-period|--cpuset-cpus|--cpuset-mems|\
            --pids-limit|--blkio-weight|--cpu-share|--kernel-memory|--kernel-memory-tcp)
                ((i++)) ;;          # a flag and its value
            -*) ;;
            *) ((npos++)) ;;
        esac
    done

    case $cmd in
        spec|list|features) return ;;
    esac
    if ((npos == 1)) && [[ $cmd == kill ]]; then
        COMPREPLY=($(compgen -W "$(kill -l | tr -s ' \t' '\n\n' | sed -n 's/^\(SIG[A-Z0-9+-]*\)$/\1/p')" -- "$cur"))
        return
    fi
    ((npos == 0)) || return     # one container id; exec's command and ps options are not ours
    local ids
    ids=$("$prog" "${global[@]}" list -q 2>/dev/null)
    COMPREPLY=($(compgen -W "$ids" -- "$cur"))
}

complete -F _krunc krunc krun
