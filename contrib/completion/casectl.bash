# bash completion for casectl (cased).
#
# The commands, their options and the values an option or argument takes
# (states, --reason, --sort, --format, --role, ...) come from casectl itself:
# `casectl help --complete` prints them from its own command table, so this
# file does not go stale when casectl gains a command. Installed into
# bash-completion's completions directory; or source it from ~/.bashrc.

# The table of the casectl at $1, asked once per shell and program.
_casectl_load() {
    if [[ $1 != "${_casectl_prog-}" ]]; then
        _casectl_table=$("$1" help --complete 2>/dev/null)
        _casectl_prog=$1
    fi
}

# The words of the table's line for command $1 (without the command).
_casectl_spec() {
    local line
    while IFS= read -r line; do
        if [[ ${line%% *} == "$1" ]]; then
            [[ $line == *" "* ]] && printf '%s\n' "${line#* }"
            return
        fi
    done <<<"$_casectl_table"
}

# Values for a positional without a set in the table: the actions of
# `keys` and `outbox`, and files.
_casectl_positional() {
    local cmd=$1 name=$2 cur=$3
    case "$cmd:$name" in
        keys:ACTION) COMPREPLY=($(compgen -W "list pin export" -- "$cur")) ;;
        outbox:ACTION) COMPREPLY=($(compgen -W "retry cancel" -- "$cur")) ;;
        *:FILE | *:DIR | *:FILES) _casectl_files "$cur" ;;
    esac
}

_casectl_files() {
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$1"))
}

_casectl_commands() {
    local line
    while IFS= read -r line; do
        [[ -n $line ]] && printf '%s\n' "${line%% *}"
    done <<<"$_casectl_table"
}

_casectl() {
    local cur=${COMP_WORDS[COMP_CWORD]} prog=${COMP_WORDS[0]}
    prog=${prog/#\~/$HOME}
    _casectl_load "$prog"
    COMPREPLY=()
    local i w cmd="" cmdi=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
            --config) ((i++)) ;;
            -*) ;;
            *) cmd=$w; cmdi=$i; break ;;
        esac
    done
    local prev=${COMP_WORDS[COMP_CWORD - 1]}
    # --opt=VALUE: bash splits it into --opt, =, VALUE.
    if [[ $cur == "=" ]]; then
        prev=${COMP_WORDS[COMP_CWORD - 1]}; cur=""
    elif [[ $prev == "=" ]]; then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi
    if [[ -z $cmd ]]; then
        if [[ $prev == --config ]]; then
            _casectl_files "$cur"
        elif [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--config --json --help --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_casectl_commands) help" -- "$cur"))
        fi
        return 0
    fi
    if [[ $cmd == help ]]; then
        COMPREPLY=($(compgen -W "$(_casectl_commands)" -- "$cur"))
        return 0
    fi
    local -a spec
    read -r -a spec <<<"$(_casectl_spec "$cmd")"
    # The value of the option just before.
    if [[ $prev == -* ]]; then
        for w in "${spec[@]}"; do
            if [[ $w == "$prev="* ]]; then
                local values=${w#*=}
                if [[ -n $values ]]; then
                    COMPREPLY=($(compgen -W "${values//,/ }" -- "$cur"))
                else
                    _casectl_files "$cur"
                fi
                return 0
            fi
        done
    fi
    if [[ $cur == -* ]]; then
        local opts="--json --help"
        for w in "${spec[@]}"; do
            [[ $w == -* ]] && opts+=" ${w%%=*}"
        done
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return 0
    fi
    # Which positional this is: count the arguments before it, skipping
    # options and the values they take.
    local -a positionals=()
    for w in "${spec[@]}"; do
        [[ $w == +* ]] && positionals+=("${w#+}")
    done
    local n=0 takes
    for ((i = cmdi + 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ $w == -* ]]; then
            takes=""
            for takes in "${spec[@]}"; do
                if [[ $takes == "$w="* ]]; then
                    # its value: the next word, or "=" and the one after
                    [[ ${COMP_WORDS[i + 1]-} == "=" ]] && ((i += 1))
                    ((i += 1))
                    break
                fi
            done
        elif [[ $w != "=" ]]; then
            ((n++))
        fi
    done
    ((${#positionals[@]})) || return 0
    ((n < ${#positionals[@]})) || n=$((${#positionals[@]} - 1))
    local p=${positionals[n]}
    if [[ $p == *=* ]]; then
        local vals=${p#*=}
        COMPREPLY=($(compgen -W "${vals//,/ }" -- "$cur"))
    else
        _casectl_positional "$cmd" "$p" "$cur"
    fi
    return 0
}

complete -F _casectl casectl
