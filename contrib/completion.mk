# Bash completion for instanced and instancectl, installed where bash-completion
# looks for them: bashcompletiondir, set by configure (contrib/completion.m4) to the
# completionsdir of bash-completion's pkg-config under our prefix, else
# $(datadir)/bash-completion/completions.
dist_bashcompletion_DATA = contrib/bash-completion/instanced \
	contrib/bash-completion/instancectl
EXTRA_DIST += contrib/completion.m4
