#compdef bottle-allow bottle-attach bottle-fetch bottle-has-backend bottle-logs bottle-ls bottle-port bottle-start bottle-stop bottle-trust

# zsh completion for the bottle binaries: bottle-allow, bottle-attach,
# bottle-fetch, bottle-has-backend, bottle-logs, bottle-ls, bottle-port,
# bottle-start, bottle-stop and bottle-trust.
#
# Installed by `make install` as share/zsh/site-functions/_bottle (a
# directory on zsh's fpath), or for this shell only, after compinit:
#     source <(bottle-ls --completion=zsh)
#
# It knows no flag, backend or agent itself: each binary completes its own
# words when run with GO_FLAGS_COMPLETION set and the words up to the
# cursor (flags with their descriptions, backend names from the registry,
# running agents' slugs and their services, agent definitions), so the
# completion is always that of the binary installed.

_bottle() {
    local cmd=${(Q)words[1]} line item
    local -a lines specs
    # bottle-attach: what follows -- is a command to run inside the agent.
    if [[ ${cmd:t} == bottle-attach ]] && (( ${words[(i)--]} < CURRENT )); then
        return 1
    fi
    lines=(${(f)"$(GO_FLAGS_COMPLETION=verbose $cmd "${(@Q)words[2,CURRENT]}" 2>/dev/null)"})
    for line in "${lines[@]}"; do
        item=${line%% *}
        if [[ $line == *'  # '* ]]; then
            specs+=("${item//:/\\:}:${line#*  \# }")
        else
            specs+=("${item//:/\\:}")
        fi
    done
    if (( ${#specs} )); then
        _describe -t values "${cmd:t}" specs && return 0
    fi
    # AGENT may also be a path to a .json file.
    if [[ ${cmd:t} == bottle-start || ${cmd:t} == bottle-trust ]]; then
        _files -g '*.json'
        return
    fi
    return 1
}

if [[ $funcstack[1] == _bottle ]]; then
    _bottle "$@"
else
    compdef _bottle bottle-allow bottle-attach bottle-fetch bottle-has-backend bottle-logs bottle-ls bottle-port bottle-start bottle-stop bottle-trust
fi
