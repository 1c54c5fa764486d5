complete --keep-order --exclusive --command qtool --arguments "(QTOOL_COMPLETE=fish qtool -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
