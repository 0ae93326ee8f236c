dnl Where make install puts the bash completion files (contrib/completion.mk): the
dnl directory bash-completion's pkg-config names, under our prefix, else
dnl $(datadir)/bash-completion/completions. To be placed in configure.ac before
dnl AC_CONFIG_FILES.
AC_ARG_WITH([bash-completion-dir],
  [AS_HELP_STRING([--with-bash-completion-dir=DIR], [directory for bash completion files])],
  [], [with_bash_completion_dir=auto])
AS_IF([test "x$with_bash_completion_dir" = xauto],
  [def_bcdir=`$PKG_CONFIG --variable=completionsdir bash-completion 2>/dev/null`
   AS_IF([test -z "$def_bcdir"], [def_bcdir='${datadir}/bash-completion/completions'],
         [def_bcdir='${prefix}'"${def_bcdir#/usr}"])
   with_bash_completion_dir=$def_bcdir])
AC_SUBST([bashcompletiondir], [$with_bash_completion_dir])
