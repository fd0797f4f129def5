# bash completion for the bottle binaries: bottle-allow, bottle-attach,
# bottle-fetch, bottle-has-backend, bottle-logs, bottle-ls, bottle-port,
# bottle-start, bottle-stop and bottle-trust.
#
# Installed by `make install` (as share/bash-completion/completions/bottle,
# with a link for each binary's name), or for this shell only:
#     source <(bottle-ls --completion=bash)
#
# It knows no flag, backend or agent itself: each binary completes its own
# words when run with GO_FLAGS_COMPLETION=1 and the words up to the cursor
# (flags, backend names from the registry, running agents' slugs and their
# services, agent definitions), so the completion is always that of the
# binary installed.

_bottle() {
    local cmd=${COMP_WORDS[0]} word i
    local -a words=() candidates=()
    # Readline splits --backend=do at the = (it is in COMP_WORDBREAKS):
    # put such words together again for the binary.
    for ((i = 1; i <= COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ $word == = && ${#words[@]} -gt 0 && ${words[-1]} == -* ]]; then
            words[-1]+==
            if ((i < COMP_CWORD)); then
                ((i++))
                words[-1]+=${COMP_WORDS[i]}
            fi
        else
            words+=("$word")
        fi
    done
    local cur=${words[-1]}
    # Asked for -, a binary lists its long options too; asked for --,
    # bottle-attach would take it for the start of a command.
    [[ $cur == -- ]] && words[-1]=-
    mapfile -t candidates < <(GO_FLAGS_COMPLETION=1 "$cmd" "${words[@]}" 2>/dev/null)
    # Readline replaces only what follows the last = of the word.
    local head=
    if [[ $COMP_WORDBREAKS == *=* && $cur == *=* ]]; then
        head=${cur%=*}=
    fi
    COMPREPLY=()
    for word in "${candidates[@]}"; do
        if [[ $word == "$cur"* ]]; then
            COMPREPLY+=("${word#"$head"}")
        fi
    done
}

_bottle_attach() {
    # What follows -- is a command to run inside the agent: nothing to offer.
    local i
    for ((i = 1; i < COMP_CWORD; i++)); do
        [[ ${COMP_WORDS[i]} == -- ]] && { COMPREPLY=(); return; }
    done
    _bottle
}
_bottle_allow() { _bottle; }
_bottle_fetch() { _bottle; }
_bottle_has_backend() { _bottle; }
_bottle_logs() { _bottle; }
_bottle_ls() { _bottle; }
_bottle_port() { _bottle; }
_bottle_start() { _bottle; }
_bottle_stop() { _bottle; }
_bottle_trust() { _bottle; }

complete -F _bottle_allow bottle-allow
complete -F _bottle_attach bottle-attach
complete -F _bottle_fetch bottle-fetch
complete -F _bottle_has_backend bottle-has-backend
complete -F _bottle_logs bottle-logs
complete -F _bottle_ls bottle-ls
complete -F _bottle_port bottle-port
# AGENT may also be a path to a .json file: files when no definition matches.
complete -o default -F _bottle_start bottle-start
complete -o default -F _bottle_trust bottle-trust
complete -F _bottle_stop bottle-stop
